"""The article's rounds 2 and 3, measured: npm_downloads against the fake npm API (with its
silent 18-month cut), the rounds' PyPI packages in the PyPI source's one query, the tool and
side rules of the analysis, the scorecard rows, and the Hub's new models per format."""

from __future__ import annotations

import csv
from datetime import date

import nbformat
import pytest

from pipeline import rules
from pipeline.notebooks import NOTEBOOKS_DIR, execute
from tests.conftest import db_rows as query
from tests.fakes.npm import NpmServer


@pytest.fixture
def servers(pypi_server, npm_server):
    return pypi_server, npm_server


def collect_both(cli) -> None:
    for source in ("pypi_downloads", "npm_downloads"):
        result = cli("collect", source)
        assert result.rc == 0, result.err


def npm_month(npm: NpmServer, name: str, month: date) -> int:
    return sum(c for d, c in npm.packages[name].items() if d.replace(day=1) == month)


def test_refresh_fills_the_rounds_then_asks_only_recent_months(cli, env, servers):
    sql, npm = servers
    collect_both(cli)
    assert cli("analyze").rc == 0 and cli("report").rc == 0
    assert len(sql.queries) == 1  # the rounds' PyPI packages are in the same single query
    assert all(f'"{p}"' in sql.queries[0] for p in ("torchserve", "tflite-runtime", "tfx"))
    for names, start, end in npm.ranges:  # the API's limits, never met
        if len(names) > 1:
            assert (end - start).days < 365 and not any(n.startswith("@") for n in names)
        else:
            assert end < date(start.year + (start.month + 17) // 12,
                              (start.month + 17) % 12 + 1, 1)
    figures = {r["figure_id"]: float(r["value"])
               for r in csv.DictReader((env.results_dir / "figures.csv").open())}
    for stem in ("deploy_tf_share_pct", "ecosystem_tf_share_pct"):
        assert 0 < figures[f"{stem}_dec2021"] < 100 and 0 < figures[f"{stem}_today"] < 100
    rows = {r["figure_id"]: r for r in csv.DictReader((env.results_dir / "scorecard.csv").open())}
    deploy = rows["deploy_tf_share_pct"]
    assert float(deploy["ours_as_of_article"]) == figures["deploy_tf_share_pct_dec2021"]
    assert float(deploy["ours_today"]) == figures["deploy_tf_share_pct_today"]
    assert deploy["status"] == ("matches" if figures["deploy_tf_share_pct_dec2021"] > 50
                                else "differs")
    assert deploy["tolerance"].startswith("> 50")
    assert "TensorFlow.js" in deploy["reason"] and "Dec 2021" in deploy["reason"]
    ecosystem = rows["ecosystem_tf_share_pct"]["reason"]
    assert "TensorFlow side" in ecosystem and "PyTorch side" in ecosystem
    assert (env.results_dir / "rounds_monthly.csv").is_file()

    npm.ranges.clear()
    for source in ("pypi_downloads", "npm_downloads"):  # nothing changed upstream
        result = cli("collect", source)
        assert result.rc == 0 and "unchanged" in result.err, result.err
    assert "month >= '2026-11-01'" in sql.queries[-1]
    assert {start for _, start, _ in npm.ranges} == {date(2026, 11, 1)}
    assert len(npm.ranges) == 4  # the two unscoped names in one bulk request, 3 scoped ones
    assert query(env, "SELECT count(*) FROM snapshots WHERE status = 'ok'")[0][0] == 2


def test_tool_and_side_rules(cli, env, servers):
    """Renames joined into one tool; nothing counted before a package's first release;
    neutral tools never in a side's share; 18-month ranges add up to the whole history."""
    sql, npm = servers
    collect_both(cli)
    assert cli("analyze").rc == 0
    out = {(m, t, reg): (d, s, before) for m, t, reg, d, s, before in query(
        env, "SELECT month, tool, registry, downloads, side_share_pct, downloads_before_release "
             "FROM out_rounds__monthly")}
    nov = date(2026, 11, 1)
    assert out[(nov, "TensorFlow Lite", "pypi")][0] == sql.total("tflite-runtime", nov) + \
        sql.total("ai-edge-litert", nov)
    old = date(2021, 11, 1)  # lightning's name still belonged to another project
    assert sql.total("lightning", old) > 0
    assert out[(old, "Lightning", "pypi")][:1] == (sql.total("pytorch-lightning", old),)
    assert out[(old, "Lightning", "pypi")][2] == sql.total("lightning", old)
    xenova = date(2023, 6, 1)  # Transformers.js before its rename: the former name only
    assert out[(xenova, "Transformers.js", "npm")][0] == npm_month(npm, "@xenova/transformers",
                                                                    xenova)
    assert not query(env, "SELECT * FROM raw_npm__downloads_at(current_snapshot('npm_downloads'))"
                          " WHERE package = '@huggingface/transformers' AND month < '2024-10-01'")
    month = date(2021, 12, 1)  # the TensorFlow side's share, from the fakes' own counts
    tf = sum(sql.total(p, month) for p in ("tensorflow-serving-api", "tflite-runtime",
                                           "tensorflowjs")) \
        + npm_month(npm, "@tensorflow/tfjs", month)
    pt = sum(sql.total(p, month) for p in ("torchserve",)) \
        + npm_month(npm, "react-native-pytorch-core", month)  # executorch: not released yet
    assert out[(month, "TensorFlow.js", "npm")][1] == pytest.approx(100 * tf / (tf + pt))
    assert out[(month, "ONNX Runtime", "pypi")][1] is None  # neutral: shown, not in a share
    assert out[(month, "ONNX Runtime", "npm")][0] == npm_month(npm, "onnxruntime-web", month)
    stored = dict(query(env, "SELECT month, downloads FROM raw_npm__downloads_at("
                             "current_snapshot('npm_downloads')) "
                             "WHERE package = '@tensorflow/tfjs'"))
    assert len(stored) == (2026 - 2018) * 12 + 12 - 2  # March 2018 to December 2026
    assert all(stored[m] == npm_month(npm, "@tensorflow/tfjs", m) for m in stored)
    notebook = execute(NOTEBOOKS_DIR / "06_rounds.ipynb", env.data_dir / "nb", timeout=120)
    outputs = [o for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"
               for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images and all("December" in o.metadata["image/png"]["alt"] for o in images)


def test_a_silent_cut_of_the_range_is_caught(cli, env, servers):
    sql, npm = servers
    npm.cut_months = 12  # the API now keeps only the last 12 months, still without an error
    result = cli("collect", "npm_downloads")
    assert result.rc == 1
    lines = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "cut the range silently" in lines[0], result.err
    assert not query(env, "SELECT * FROM snapshots WHERE status = 'ok'")


def test_hub_formats_per_month(cli, env, monkeypatch):
    """New Hub models per deployment-format tag, counted from the listing the fake serves."""
    from tests.fakes.hf_hub import FakeHfHub, synthetic_model

    def formats(i: int, model: dict) -> dict:
        extra = [["tflite"], ["coreml", "onnx"], ["executorch"], []][i % 4]
        return model | {"tags": model["tags"] + extra}

    with FakeHfHub(n=400, mutate=formats) as hub:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", hub.url)
        assert cli("collect", "hf_models", "--hf-mode", "api").rc == 0  # the listing: mutated
    assert cli("analyze").rc == 0
    got = {(m, f): n for m, f, n in query(
        env, "SELECT month, format, models FROM out_hf__formats_monthly")}
    expected: dict[tuple[date, str], int] = {}
    for i in range(400):
        model = formats(i, synthetic_model(i, 400))
        created = date.fromisoformat(model["createdAt"][:10])
        if created >= date(2022, 4, 1):
            for tag in set(model["tags"]) & {"onnx", "tflite", "coreml", "gguf", "executorch",
                                             "openvino", "safetensors"}:
                key = (created.replace(day=1), tag)
                expected[key] = expected.get(key, 0) + 1
    assert {k: v for k, v in got.items() if v} == expected
    assert (env.results_dir / "hf_formats_monthly.csv").is_file()


def test_reference_rows_are_checked(tmp_path):
    path = tmp_path / "r.csv"
    head = "package,registry,side,round,tool,first_month,note\n"
    for body, needle in [("torch,conda,pytorch,deployment,T,2020-01,\n", "registry"),
                         ("@Bad/Name,npm,pytorch,deployment,T,2020-01,\n", "npm name"),
                         ("a,pypi,pytorch,deployment,T,2020-01,\nb,pypi,tensorflow,"
                          "deployment,T,2020-01,\n", "one side"),
                         ("a,pypi,pytorch,deployment,T,2020-13,\n", "YYYY-MM"),
                         ("a,pypi,both,deployment,T,2020-01,\n", "side")]:
        path.write_text(head + body)
        with pytest.raises(ValueError, match=needle):
            rules.rounds_packages(path)
    tools = {(p.tool, p.package) for p in rules.rounds_packages()}
    assert {("TensorFlow Lite", "tflite-runtime"), ("TensorFlow Lite", "ai-edge-litert"),
            ("Lightning", "lightning"), ("Lightning", "pytorch-lightning"),
            ("Transformers.js", "@xenova/transformers")} <= tools
