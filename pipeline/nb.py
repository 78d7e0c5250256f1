"""Helpers for the notebooks: open the results read-only, explain what to run when data is
missing, and show charts and tables. Notebooks never collect; they only read the store."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pipeline.config import REFERENCE_DIR, Settings
from pipeline.errors import PipelineError
from pipeline.store import connect, table_exists


def settings() -> Settings:
    return Settings.from_env()


def open_results() -> duckdb.DuckDBPyConnection | None:
    """A read-only connection, or None after printing what to run to create the database."""
    s = settings()
    try:
        return connect(s.db_path, read_only=True)
    except PipelineError as exc:
        print(f"No results to show yet: {exc}")
        print("Run `make refresh` first (offline: "
              "ADOPTION_CONFERENCES_URL=../shared/mirror/pytorch-vs-tensorflow "
              "ADOPTION_JOBS_HN_URL=../shared/mirror/hn-2021-2026 make refresh).")
        return None


def has(con: duckdb.DuckDBPyConnection | None, *tables: str, source: str = "") -> bool:
    """True when every table exists and has rows; otherwise print which source to collect."""
    if con is None:
        return False
    missing = [t for t in tables
               if not table_exists(con, t) or not con.execute(f"SELECT count(*) FROM {t}")
               .fetchall()[0][0]]
    if missing:
        hint = f"`python -m pipeline refresh --source {source}`" if source else "`make refresh`"
        print(f"No data yet for {', '.join(missing)}: run {hint}, then re-run this notebook.")
        return False
    return True


def article_claims(section: str) -> pd.DataFrame:
    ref = pd.read_csv(REFERENCE_DIR / "article_figures.csv")
    return ref.loc[ref.section == section, ["figure_id", "value", "unit", "quote"]]


def show_chart(name: str):
    """The chart image as the pipeline drew it (data/charts/<name>.png), with its alt text."""
    from IPython.display import Image, display

    from pipeline.charts import read_index

    charts_dir = Path(settings().charts_dir)
    path = charts_dir / f"{name}.png"
    if path.is_file():
        entry = read_index(charts_dir).get(name, {})
        alt = entry.get("alt") or f"Chart {name} (no description recorded: re-run charts)"
        display(Image(filename=str(path), metadata={"alt": alt}))
        if entry.get("caption"):
            print(entry["caption"])
    else:
        print(f"{path} not drawn yet: run `python -m pipeline charts`.")


def show_figure(fig, alt: str):
    """Show a matplotlib figure drawn in a notebook as a PNG carrying `alt` text."""
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="png", metadata={"alt": alt}))


def show_drawn(drawn):
    """Show a chart drawn in the notebook by a pipeline chart function (a `charts.Drawn`)."""
    show_figure(drawn.fig, drawn.alt)
