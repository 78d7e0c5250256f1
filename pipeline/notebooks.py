"""Execute the notebooks in `notebooks/` into `data/notebooks/` (executed .ipynb + HTML).

The kernel inherits this process's environment, so `ADOPTION_DB` and friends point the
notebooks at the same database the pipeline used. Notebooks open it read-only.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.config import PROJECT_ROOT, Settings

log = logging.getLogger("pipeline")
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"


def execute(notebook: Path, out_dir: Path, timeout: int = 600) -> Path:
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / notebook.name
    nbformat.write(nb, target)
    html, _ = HTMLExporter().from_notebook_node(nb)
    target.with_suffix(".html").write_text(html)
    return target


def execute_all(settings: Settings, notebooks_dir: Path = NOTEBOOKS_DIR) -> bool:
    ok = True
    for notebook in sorted(notebooks_dir.glob("*.ipynb")):
        try:
            target = execute(notebook, settings.notebooks_out_dir)
        except Exception as exc:  # a cell error: report it, run the other notebooks
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            log.error("error: notebook %s failed: %s", notebook.name, first[:300])
            ok = False
            continue
        log.info("notebook: %s (+ .html)", target)
    return ok
