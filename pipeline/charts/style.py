"""One place for the look of every chart: colours, fonts, sizes, footer, saving."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb
import matplotlib

from pipeline.mirrors import shown_origin
from pipeline.store import DATA_DATE_SQL

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PYTORCH = "#EE4C2C"  # PyTorch's brand orange-red
TENSORFLOW = "#FF9F0A"  # TensorFlow orange
BOTH = "#8E6BBF"
JAX = "#2E86AB"
OTHER = "#9AA5B1"
NONE = "#D5DBE1"
ARTICLE = "#1F2933"  # the article's reference values
KERAS = "#B5179E"
MLX = "#3D405B"
ONNX = "#5E8C31"
FRAMEWORK_COLOURS = {
    "PyTorch": PYTORCH, "TensorFlow": TENSORFLOW, "Both": BOTH, "JAX": JAX,
    "Other": OTHER, "None": NONE, "Keras": KERAS, "MLX": MLX, "ONNX Runtime": ONNX,
}
WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.8, 110  # ~880 px wide: readable at README width

STYLE = {
    "font.size": 10,
    "axes.titlesize": 12.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "svg.fonttype": "none",
    "svg.hashsalt": "framework-adoption",  # the SVG's element ids, else random per drawing
}
#: no drawing date or library version in the files: the same chart gives the same bytes
METADATA = {".png": {"Software": None}, ".svg": {"Date": None, "Creator": None}}


def figure(height: float = HEIGHT_IN, width: float = WIDTH_IN, **kwargs):
    plt.rcParams.update(STYLE)
    return plt.subplots(figsize=(width, height), **kwargs)


def provenance(con: duckdb.DuckDBPyConnection, snapshot_ids: Iterable[int | None]) -> str:
    """Footer text naming, per input snapshot, its source, the day of its data (when the
    source knows it, e.g. an archived listing: 'data of 2022-02-15'; otherwise the day its data
    was first collected), its short checksum and its public origin. Snapshot ids (local to a
    database) are left out: the same data drawn again, in this database or another, gives the
    same footer, so a published chart changes only when what it shows changed."""
    ids = sorted({int(i) for i in snapshot_ids if i is not None})
    if not ids:
        return "No data collected yet"
    rows = con.execute(
        f"SELECT DISTINCT s.source, coalesce(s.data_as_of, {DATA_DATE_SQL.format(s='s')}), "
        "s.data_as_of IS NOT NULL, s.sha256, s.origin_url, s.parameters->>'public_origin' "
        "FROM snapshots s WHERE s.snapshot_id IN (SELECT unnest(?)) ORDER BY 1, 4", [ids]
    ).fetchall()
    parts = [
        f"{source} {'data of' if dated else 'as collected'} {day:%Y-%m-%d} (sha256 {sha[:10]}) "
        f"from {_short(shown_origin(origin, public))}"
        for source, day, dated, sha, origin, public in rows
    ]
    return "Data: " + "; ".join(parts)


def _short(origin: str) -> str:
    origin = origin or "?"
    return origin if len(origin) <= 110 else origin[:54] + "…" + origin[-54:]


def finish(fig, path: Path, footer: str) -> list[Path]:
    """Stamp the footer, save PNG and SVG beside it atomically, close the figure."""
    fig.text(0.01, 0.008, footer, fontsize=6.5, color="#52606D", ha="left", va="bottom",
             wrap=True)
    fig.tight_layout(rect=(0, 0.045, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in (".png", ".svg"):
        target = path.with_suffix(suffix)
        tmp = target.with_name(f".{target.stem}.tmp{suffix}")
        fig.savefig(tmp, format=suffix[1:], metadata=METADATA[suffix])
        tmp.replace(target)
        written.append(target)
    plt.close(fig)
    return written


NO_DATA_FOOTER = "No data collected yet for this chart"


def no_data(title: str, message: str):
    """A placeholder figure that says plainly which data is missing and how to get it."""
    fig, ax = figure(height=2.6)
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color="#52606D",
            wrap=True, transform=ax.transAxes)
    return fig


def largest_remainder(values: list[float], total: int = 100) -> list[int]:
    """Whole numbers proportional to `values` that add up to exactly `total` (Hamilton's
    method), so rounded shares of one whole never print as 99% or 101%."""
    whole = sum(values)
    if whole <= 0:
        return [0] * len(values)
    exact = [v * total / whole for v in values]
    rounded = [int(x) for x in exact]
    by_remainder = sorted(range(len(values)), key=lambda i: exact[i] - rounded[i], reverse=True)
    for i in by_remainder[: total - sum(rounded)]:
        rounded[i] += 1
    return rounded


def spread(positions: list[float], min_gap: float, low: float, high: float) -> list[float]:
    """Label positions moved apart so neighbours are at least `min_gap` apart, kept within
    [low, high] where they fit; the order of the input is kept (positions top to bottom)."""
    if not positions:
        return []
    out = list(positions)
    for i in range(1, len(out)):  # push down
        out[i] = min(out[i], out[i - 1] - min_gap)
    overflow = low - out[-1]
    if overflow > 0:  # then shift up from the bottom, keeping the gaps
        out[-1] = low
        for i in range(len(out) - 2, -1, -1):
            out[i] = max(out[i], out[i + 1] + min_gap)
    return [min(p, high) if i == 0 else p for i, p in enumerate(out)]
