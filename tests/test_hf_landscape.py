"""What new Hub models are built for: framework families of hand-built models (each edge case
of the resolution in its own month, its families stated by hand), monthly cohorts, shares,
download weighting, the figures, the chart, and the reference table's checks."""

from __future__ import annotations

import csv

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import rules
from pipeline.charts import draw_all, read_index
from pipeline.charts.hf_landscape import CHARTS
from pipeline.store import connect
from tests.fakes.hf_hub import ARTICLE_STAMP, HUB_STATS_PATH, FakeHfHub

P, TF, JAX, MLX, GGUF, ONNX, OTHER = ("pytorch", "tensorflow", "jax", "mlx", "gguf", "onnx",
                                      "other")
NONE: set = set()

#: id, tags, library, downloads, all-time downloads, createdAt, families by tags, by library
MODELS = [
    ("era", ["pytorch"], "transformers", 5, 5, ARTICLE_STAMP, {P}, {P}),
    ("pre", ["tf"], None, 1, 1, "2022-03-15T00:00:00.000Z", {TF}, {TF}),  # before April 2022
    # the edge cases, one a month
    ("st-no-library", ["safetensors"], None, 1, 1, "2025-01-10T00:00:00.000Z", NONE, NONE),
    ("gguf-pytorch", ["gguf", "pytorch"], None, 1, 1, "2025-02-10T00:00:00.000Z",
     {GGUF, P}, {GGUF, P}),
    ("tjs", ["transformers.js", "onnx"], "transformers.js", 1, 1, "2025-03-10T00:00:00.000Z",
     {ONNX}, {ONNX}),
    ("keras-no-tag", ["safetensors"], "keras", 1, 1, "2025-04-10T00:00:00.000Z", NONE, {TF}),
    ("no-library", ["tf"], None, 1, 1, "2025-05-10T00:00:00.000Z", {TF}, {TF}),
    ("unknown-library", ["safetensors"], "brand-new-lib", 1, 1, "2025-06-10T00:00:00.000Z",
     NONE, NONE),
    ("mixed-case", ["PyTorch", "TF", "Safetensors"], "Transformers", 1, 1,
     "2025-07-10T00:00:00.000Z", {P, TF}, {P, TF}),
    ("no-tags", [], "transformers", 1, 1, "2025-08-10T00:00:00.000Z", NONE, {P}),
    ("nothing", [], None, 1, 1, "2025-09-10T00:00:00.000Z", NONE, NONE),
    ("st-transformers", ["safetensors"], "transformers", 1, 1, "2025-10-10T00:00:00.000Z",
     NONE, {P}),
    ("mlx", ["mlx", "safetensors"], "mlx-lm", 1, 1, "2025-11-10T00:00:00.000Z", {MLX}, {MLX}),
    ("paddle", [], "PaddleOCR", 1, 1, "2025-12-10T00:00:00.000Z", NONE, {OTHER}),
    # a month of four: shares over the resolved, weighted by 30-day and all-time downloads
    ("a", ["pytorch"], "transformers", 100, 1000, "2026-01-03T00:00:00.000Z", {P}, {P}),
    ("b", ["gguf", "pytorch"], None, 50, 500, "2026-01-04T00:00:00.000Z", {GGUF, P}, {GGUF, P}),
    ("c", ["safetensors"], None, 10, 10, "2026-01-05T00:00:00.000Z", NONE, NONE),
    ("d", ["tf", "keras"], "keras", 40, 4000, "2026-01-06T00:00:00.000Z", {TF}, {TF}),
    # created after January ended: January is complete, February is not
    ("closing", ["pytorch"], "transformers", 1, 1, "2026-02-02T00:00:00.000Z", {P}, {P}),
]
LAST_12 = [m for m in MODELS if "2025-02" <= m[5][:7] <= "2026-01"]


@pytest.fixture
def landscape(cli, env, tmp_path, monkeypatch):
    folder = tmp_path / "hub"
    path = folder / HUB_STATS_PATH.lstrip("/")
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({
        "id": [m[0] for m in MODELS], "tags": [m[1] for m in MODELS],
        "library_name": [m[2] for m in MODELS], "downloads": [m[3] for m in MODELS],
        "downloadsAllTime": [m[4] for m in MODELS], "likes": [0] * len(MODELS),
        "createdAt": [m[5] for m in MODELS]}), path)
    monkeypatch.setenv("ADOPTION_HF_MODELS_URL", str(folder))
    result = cli("collect", "hf_models", "--hf-mode", "parquet")
    assert result.rc == 0 and cli("analyze").rc == 0, result.err
    con = connect(env.db_path, read_only=True)
    yield con
    con.close()


def families(con, month: str, reading: str) -> set[str]:
    return {f for (f,) in con.execute(
        "SELECT family FROM out_hf__landscape_monthly WHERE month = ? AND reading = ? "
        "AND models > 0", [month, reading]).fetchall()}


def test_each_edge_case_resolves_as_stated(landscape):
    for model_id, _, _, _, _, created, by_tags, by_library in MODELS[2:14]:
        month = created[:7]
        assert families(landscape, month, "tags") == by_tags, model_id
        assert families(landscape, month, "library") == by_library, model_id
        unresolved = landscape.execute(
            "SELECT DISTINCT reading, unresolved_models, total_models FROM "
            "out_hf__landscape_monthly WHERE month = ? ORDER BY reading", [month]).fetchall()
        assert unresolved == [("library", int(not by_library), 1),
                              ("tags", int(not by_tags), 1)], model_id


def test_months_run_from_april_2022_to_the_latest_complete_month(landscape):
    months = [m for (m,) in landscape.execute(
        "SELECT DISTINCT month FROM out_hf__landscape_monthly ORDER BY 1").fetchall()]
    assert months == [f"2025-{m:02d}" for m in range(1, 13)] + ["2026-01"]
    scopes = dict(landscape.execute(
        "SELECT scope, max(total_models) FROM out_hf__landscape GROUP BY 1").fetchall())
    assert scopes == {"article": 1, "today": len(MODELS), "last_12_months": len(LAST_12)}


def test_shares_are_over_resolved_models_and_weighted_by_downloads(landscape):
    rows = {r[0]: r[1:] for r in landscape.execute(
        "SELECT family, models, share_pct, unresolved_pct, downloads_share_pct, "
        "downloads_all_time_share_pct, tag_coverage_pct FROM out_hf__landscape_monthly "
        "WHERE month = '2026-01' AND reading = 'library'").fetchall()}
    # resolved: a, b, d (c has no family); b is PyTorch and GGUF
    assert rows[P][:2] == (2, pytest.approx(200 / 3))
    assert rows[GGUF][:2] == (1, pytest.approx(100 / 3))
    assert rows[TF][:2] == (1, pytest.approx(100 / 3))
    assert rows[P][2] == pytest.approx(25.0)  # c, of all four
    assert rows[P][3] == pytest.approx(100 * 150 / 190)  # (a + b) / (a + b + d)
    assert rows[TF][3] == pytest.approx(100 * 40 / 190)
    assert rows[P][4] == pytest.approx(100 * 1500 / 5500)
    assert rows[P][5] == pytest.approx(75.0)  # a, b, d carry pytorch or tf


def test_headline_figures_pool_the_last_12_complete_months(landscape, env):
    with (env.results_dir / "figures.csv").open() as fh:
        got = {r["figure_id"]: float(r["value"]) for r in csv.DictReader(fh)}
    for tail, column in (("_today", 7), ("_tags_today", 6)):  # library reading, tags reading
        resolved = [m for m in LAST_12 if m[column]]
        for family in rules.HUB_FAMILIES:
            share = 100 * sum(family in m[column] for m in resolved) / len(resolved)
            assert got[f"hf_landscape_{family}_pct{tail}"] == pytest.approx(share, abs=0.006)
        unresolved = 100 * (len(LAST_12) - len(resolved)) / len(LAST_12)
        assert got[f"hf_landscape_unresolved_pct{tail}"] == pytest.approx(unresolved, abs=0.006)
    covered = sum(any(t.lower() in ("pytorch", "tf") for t in m[1]) for m in LAST_12)
    assert got["hf_tag_coverage_pct_today"] == pytest.approx(100 * covered / len(LAST_12),
                                                             abs=0.006)
    with (env.results_dir / "hf_landscape_monthly.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert {"month", "reading", "family", "models", "share_pct", "unresolved_models",
            "downloads_share_pct", "downloads_all_time_share_pct"} <= set(table[0])
    assert len(table) == 13 * 2 * len(rules.HUB_FAMILIES)


def test_after_a_refresh_against_the_fake_hub(cli, env, monkeypatch):
    with FakeHfHub(n=1500, article_share=0.1) as hub:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", hub.url)
        result = cli("collect", "hf_models")
        assert result.rc == 0, result.err
    assert cli("analyze").rc == 0
    with (env.results_dir / "figures.csv").open() as fh:
        ids = {r["figure_id"] for r in csv.DictReader(fh)}
    assert {f"hf_landscape_{f}_pct_today" for f in rules.HUB_FAMILIES} <= ids
    assert "hf_tag_coverage_pct_today" in ids
    assert (env.results_dir / "hf_landscape_monthly.csv").stat().st_size > 1000
    con = connect(env.db_path)
    assert con.execute("SELECT count(DISTINCT month) FROM out_hf__landscape_monthly"
                       ).fetchone()[0] > 40
    _, errors = draw_all(con, env.charts_dir, charts=CHARTS)  # only this chart: quicker
    con.close()
    assert errors == []
    entry = read_index(env.charts_dir)["hf_landscape"]
    assert entry["has_data"] and entry["title"].startswith("What new Hub models are built for: ")
    assert "library reading" in entry["title"] and "the article's pytorch/tf tags see" in \
        entry["title"]
    assert (env.charts_dir / "hf_landscape.png").stat().st_size > 20_000


@pytest.mark.parametrize("line, problem", [
    ("tag,pytorch,torchy,x", "unknown family 'torchy'"),
    ("flavour,pytorch,pytorch,x", "kind is not 'tag' or 'library'"),
    ("tag,PyTorch,pytorch,x", "value is empty or not lower case"),
    ("library,timm,pytorch,", "no reason given"),
    ("tag,tf,tensorflow,again", "duplicate value"),
])
def test_the_reference_table_is_checked(tmp_path, line, problem):
    path = tmp_path / "hub_frameworks.csv"
    path.write_text(rules.HUB_FRAMEWORKS.read_text() + line + "\n")
    with pytest.raises(ValueError, match=problem):
        rules.hub_frameworks(path)


def test_the_reference_table_maps_what_the_issue_lists():
    mapped = {(r.kind, r.value): r.family for r in rules.hub_frameworks()}
    for tag, family in {"pytorch": P, "tf": TF, "keras": TF, "tf-keras": TF, "tflite": TF,
                        "tfjs": TF, "jax": JAX, "flax": JAX, "mlx": MLX, "gguf": GGUF,
                        "onnx": ONNX, "transformers.js": ONNX}.items():
        assert mapped[("tag", tag)] == family, tag
    for library, family in {"transformers": P, "diffusers": P, "sentence-transformers": P,
                            "timm": P, "peft": P, "keras": TF, "tf-keras": TF, "mlx": MLX,
                            "mlx-lm": MLX}.items():
        assert mapped[("library", library)] == family, library
    assert ("tag", "safetensors") not in mapped  # a file format, not a framework
