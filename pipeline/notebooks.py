"""Execute the notebooks in `notebooks/` into `data/notebooks/` (executed .ipynb + HTML).

The kernel inherits this process's environment, so `ADOPTION_DB` and friends point the
notebooks at the same database the pipeline used. Notebooks open it read-only.

- Notebooks are re-executed only when an input changed: the current snapshot of every source,
  the analyses' recorded inputs (`step_runs`), the charts they show (`charts.json` keys), the
  reference file and the notebook files and `pipeline/nb.py` themselves. The key is stored
  beside the outputs in `_inputs.json`; `force=True` re-runs.
- The kernel talks to this process over local IPC sockets (not TCP), in a private folder.
- The HTML is self-contained: no require.js, MathJax or Mermaid from a CDN, and every image
  carries the alt text the notebook gave it (see `nb.show_chart` / `nb.show_figure`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from pipeline.config import PROJECT_ROOT, REFERENCE_DIR, Settings

log = logging.getLogger("pipeline")
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
INPUTS_FILE = "_inputs.json"

#: nbconvert's lab template without the scripts it loads from a CDN, and with alt text on PNGs
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- set alt = output | get_metadata('alt', 'image/png') -%}
{%- if alt %} alt="{{ alt | escape_html }}"{% endif %}>
</div>
{%- endblock data_png %}
"""


def html_exporter():
    """nbconvert's HTML exporter with the template above."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(extra_loaders=[DictLoader({"adoption.html.j2": TEMPLATE})],
                        template_file="adoption.html.j2")


#: nbclient's own logger says "Executing notebook with kernel: python3" for every notebook;
#: we print one line per notebook ourselves, and keep its warnings and errors
_QUIET = logging.getLogger("pipeline.nbclient")
_QUIET.setLevel(logging.WARNING)


def kernel_env(settings: Settings | None = None) -> dict[str, str]:
    """The kernel's environment: ours, with this checkout's root and every data path made
    absolute, so a kernel starting in `notebooks/` reads this run's database and this
    checkout's code (not those of wherever the package was first installed)."""
    settings = settings or Settings.from_env()
    paths = {"ADOPTION_ROOT": PROJECT_ROOT, "ADOPTION_DATA_DIR": settings.data_dir,
             "ADOPTION_DB": settings.db_path, "ADOPTION_CHARTS_DIR": settings.charts_dir,
             "ADOPTION_RESULTS_DIR": settings.results_dir, "ADOPTION_RAW_DIR": settings.raw_dir}
    env = dict(os.environ) | {k: str(Path(v).absolute()) for k, v in paths.items()}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def execute(notebook: Path, out_dir: Path, timeout: int = 600,
            settings: Settings | None = None) -> Path:
    import nbformat
    from nbclient import NotebookClient
    from traitlets.config import Config

    nb = nbformat.read(notebook, as_version=4)
    with tempfile.TemporaryDirectory(prefix="adoption-kernel-") as sockets:
        config = Config({"KernelManager": {"transport": "ipc", "ip": f"{sockets}/kernel"}})
        NotebookClient(nb, timeout=timeout, kernel_name="python3", config=config,
                       resources={"metadata": {"path": str(notebook.parent)}},
                       log=_QUIET).execute(env=kernel_env(settings))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / notebook.name
    html, _ = html_exporter().from_notebook_node(nb)
    _write_atomic(target, nbformat.writes(nb))
    _write_atomic(target.with_suffix(".html"), html)
    return target


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _sha256_file(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def inputs_key(settings: Settings, notebooks: list[Path]) -> dict:
    """Everything the executed notebooks depend on, read without writing anything."""
    from pipeline.charts import read_index
    from pipeline.errors import PipelineError
    from pipeline.store import connect, table_exists

    database: dict = {"snapshots": None, "step_runs": None}
    try:
        con = connect(settings.db_path, read_only=True)
    except PipelineError:
        con = None
    if con is not None:
        try:
            if table_exists(con, "snapshots"):
                database["snapshots"] = dict(con.execute(
                    "SELECT source, current_snapshot(source) FROM "
                    "(SELECT DISTINCT source FROM snapshots) ORDER BY source").fetchall())
            if table_exists(con, "step_runs"):
                database["step_runs"] = dict(con.execute(
                    "SELECT step, inputs FROM step_runs ORDER BY step").fetchall())
        finally:
            con.close()
    charts = read_index(settings.charts_dir)
    return {
        **database,
        "charts": {name: entry.get("key") for name, entry in sorted(charts.items())},
        "reference": _sha256_file(REFERENCE_DIR / "article_figures.csv"),
        "code": {p.name: _sha256_file(p) for p in
                 [*notebooks, PROJECT_ROOT / "pipeline" / "nb.py", Path(__file__)]},
    }


def execute_all(settings: Settings, notebooks_dir: Path = NOTEBOOKS_DIR,
                force: bool = False) -> bool:
    """Execute every notebook unless none of their inputs changed since the last run."""
    notebooks = sorted(notebooks_dir.glob("*.ipynb"))
    out_dir = settings.notebooks_out_dir
    key = json.loads(json.dumps(inputs_key(settings, notebooks), default=str))
    stored = out_dir / INPUTS_FILE
    outputs = [out_dir / n.name for n in notebooks] + [out_dir / f"{n.stem}.html"
                                                       for n in notebooks]
    if not force and stored.is_file() and all(p.is_file() for p in outputs):
        try:
            previous = json.loads(stored.read_text())
        except ValueError:
            previous = None
        if previous == key:
            log.info("notebooks: unchanged (inputs as at the last run; --force re-runs)")
            return True
    ok = True
    for notebook in notebooks:
        try:
            target = execute(notebook, out_dir, settings=settings)
        except Exception as exc:  # a cell error: report it, run the other notebooks
            if getattr(exc, "ename", None):  # nbclient's CellExecutionError: the cell's error
                first = f"{exc.ename}: {exc.evalue}"
            else:
                first = (str(exc).strip().splitlines()[-1] if str(exc).strip()
                         else type(exc).__name__)
            log.error("error: notebook %s failed: %s", notebook.name, first[:300])
            ok = False
            continue
        log.info("notebook: %s (+ .html)", target)
    if ok:
        _write_atomic(stored, json.dumps(key, indent=1, sort_keys=True) + "\n")
    else:
        stored.unlink(missing_ok=True)
    return ok
