"""One place for the look of every chart: colours, fonts, sizes, footer, saving."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PYTORCH = "#EE4C2C"  # PyTorch's brand orange-red
TENSORFLOW = "#FF9F0A"  # TensorFlow orange
BOTH = "#8E6BBF"
JAX = "#2E86AB"
OTHER = "#9AA5B1"
NONE = "#D5DBE1"
ARTICLE = "#1F2933"  # the article's reference values
FRAMEWORK_COLOURS = {
    "PyTorch": PYTORCH, "TensorFlow": TENSORFLOW, "Both": BOTH, "JAX": JAX,
    "Other": OTHER, "None": NONE,
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
}


def figure(height: float = HEIGHT_IN, width: float = WIDTH_IN, **kwargs):
    plt.rcParams.update(STYLE)
    return plt.subplots(figsize=(width, height), **kwargs)


def provenance(con: duckdb.DuckDBPyConnection, snapshot_ids: Iterable[int | None]) -> str:
    """Footer text naming each snapshot's source, date and short checksum."""
    ids = sorted({int(i) for i in snapshot_ids if i is not None})
    if not ids:
        return "No data collected yet"
    rows = con.execute(
        "SELECT source, snapshot_id, finished_at, sha256, origin_url FROM snapshots "
        "WHERE snapshot_id IN (SELECT unnest(?)) ORDER BY source, snapshot_id", [ids]
    ).fetchall()
    parts = [
        f"{source} snapshot #{sid} ({finished:%Y-%m-%d}, sha256 {sha[:10]}) from {_short(origin)}"
        for source, sid, finished, sha, origin in rows
    ]
    return "Data: " + "; ".join(parts)


def _short(origin: str) -> str:
    origin = origin or "?"
    return origin if len(origin) <= 60 else origin[:28] + "…" + origin[-28:]


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
        fig.savefig(tmp, format=suffix[1:])
        tmp.replace(target)
        written.append(target)
    plt.close(fig)
    return written


def no_data(path: Path, title: str, message: str) -> list[Path]:
    """A placeholder that says plainly which data is missing and how to get it."""
    fig, ax = figure(height=2.6)
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color="#52606D",
            wrap=True, transform=ax.transAxes)
    return finish(fig, path, "No data collected yet for this chart")
