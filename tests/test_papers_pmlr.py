"""The `papers` source on 62 real PMLR papers (UAI 2020, 2023, 2024): the shared mirror read in
place as a local PMLR source, in the mlresearch repositories' own layout. What the extraction
and the rules find is checked against the mirror's SOURCE.md, whose authors read the papers
(and confirmed every word with a second library); the mirror is never copied."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import duckdb
import pytest

from tests.conftest import isolated_env, mirror_dir


def documented(source_md: Path) -> dict[tuple[str, str], dict]:
    """The "Papers" table of SOURCE.md: (volume, paper id) -> bytes, pages, sha256 prefix and
    the framework words found."""
    rows = {}
    for line in source_md.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and re.fullmatch(r"v\d+", cells[0]) and cells[2].isdigit():
            words = set() if cells[5] == "—" else {w.strip() for w in cells[5].split(",")}
            rows[(cells[0], cells[1])] = {"bytes": int(cells[2]), "pages": int(cells[3]),
                                          "sha256": cells[4], "words": words}
    return rows


@pytest.fixture(scope="session")
def pmlr_collected(tmp_path_factory: pytest.TempPathFactory):
    """The 62 papers collected (and their PDFs read) once per test session."""
    mirror = mirror_dir("pmlr")
    from pipeline.cli import main

    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = isolated_env(tmp_path_factory.mktemp("pmlr"), monkeypatch)
        monkeypatch.setenv("ADOPTION_PAPERS_PMLR_URL", str(mirror))
        monkeypatch.setenv("ADOPTION_PAPERS_SITES", "pmlr")
        monkeypatch.setenv("ADOPTION_PAPERS_COMPARE", "false")
        monkeypatch.setenv("ADOPTION_PAPERS_MIN_INTERVAL_SECONDS", "0")
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = main(["collect", "papers"])
        assert rc == 0, err.getvalue()
        con = duckdb.connect(str(settings.db_path), read_only=True)
        papers = con.execute(
            "SELECT m.venue, paper_id, status, words, pages, pdf_sha256, pdf_bytes, pytorch, "
            "tensorflow, jax, flax, mlx, p.title, authors, pdf_url, word_counts "
            "FROM raw_papers__papers_at(current_snapshot('papers')) p "
            "JOIN raw_papers__meetings m ON m.meeting = p.meeting "
            "AND m.snapshot_id = current_snapshot('papers')").fetchall()
        meetings = con.execute("SELECT meeting, conference, year, venue, listed, processed, "
                               "failed, complete FROM raw_papers__meetings").fetchall()
        con.close()
        yield {"mirror": mirror, "settings": settings, "monkeypatch": monkeypatch,
               "papers": {(r[0], r[1]): r for r in papers}, "meetings": meetings,
               "log": err.getvalue()}


def test_every_volume_becomes_a_meeting_from_its_config(pmlr_collected):
    """The meeting comes from each volume's _config.yml: UAI, not one of the nine conferences
    (so it never enters the headline series), complete once every PDF is read."""
    assert sorted(pmlr_collected["meetings"]) == [
        ("uai-2020", "UAI", 2020, "v124", 20, 20, 0, True),
        ("uai-2023", "UAI", 2023, "v216", 24, 24, 0, True),
        ("uai-2024", "UAI", 2024, "v244", 18, 18, 0, True),
    ]


def test_words_pages_and_checksums_match_what_source_md_documents(pmlr_collected):
    expected = documented(pmlr_collected["mirror"] / "SOURCE.md")
    assert len(expected) == 62
    papers = pmlr_collected["papers"]
    assert set(papers) == set(expected)
    for key, doc in expected.items():
        row = papers[key]
        assert row[2] == "ok", key
        assert set(row[3]) == doc["words"], (key, row[3], doc["words"])
        assert row[4] == doc["pages"], key
        assert row[5].startswith(doc["sha256"]) and row[6] == doc["bytes"], key


def test_the_documented_hard_cases(pmlr_collected):
    """Near misses, splits at a line end and the ligature cases of SOURCE.md, one by one."""
    papers = {pid: row for (_, pid), row in pmlr_collected["papers"].items()}
    flags = {pid: dict(zip(("pytorch", "tensorflow", "jax", "flax", "mlx"), row[7:12],
                           strict=True)) for pid, row in papers.items()}
    assert not flags["andrade23a"]["pytorch"]          # only "GPyTorch" (once "GPy-/Torch")
    assert not any(flags["gunther23a"].values())       # only "Flax-/man" at a line end
    assert not flags["xu20b"]["flax"] and not flags["assaad24a"]["flax"]  # "Flaxman"
    assert flags["cao23b"]["tensorflow"]               # only "Ten-/sorflow" at a line end
    assert flags["dong24b"]["pytorch"] and flags["wimmer23a"]["pytorch"]  # "Py-/Torch"
    assert flags["cheng20a"]["tensorflow"] and flags["das23b"]["tensorflow"]  # "ﬂ" ligature
    assert flags["chung23a"]["tensorflow"] and papers["chung23a"][3] == ["keras"]  # a synonym
    assert flags["pizarro24a"]["pytorch"] and "fairseq" in papers["pizarro24a"][3]
    assert flags["enomoto24a"]["pytorch"] and "torchvision" in papers["enomoto24a"][3]
    assert flags["nagorko24a"]["jax"] and not flags["nagorko24a"]["pytorch"]
    assert not any(f["mlx"] or f["flax"] for f in flags.values())  # none in the sample


def test_counts_of_the_sample(pmlr_collected):
    """SOURCE.md's groups: 25 papers mention PyTorch, 10 TensorFlow (11 with the Keras one),
    4 both, 4 JAX, 27 no framework word."""
    rows = list(pmlr_collected["papers"].values())
    assert sum(r[7] for r in rows) == 25
    assert sum(r[8] for r in rows) == 11
    assert sum(r[7] and r[8] for r in rows) == 4
    assert sum(r[9] for r in rows) == 4
    assert sum(not r[3] for r in rows) == 27


def test_listing_metadata_comes_from_the_posts(pmlr_collected):
    row = pmlr_collected["papers"][("v244", "ao24a")]
    assert row[12].startswith("CSS: Contrastive Semantic Similarities")
    assert row[13] == ["Shuang Ao", "Stefan Rueger", "Advaith Siddharthan"]
    assert row[14] == "https://raw.githubusercontent.com/mlresearch/v244/main/assets/ao24a/" \
                      "ao24a.pdf"  # the PDF's published address, though read from the mirror


def test_a_second_run_reads_no_pdf_again(pmlr_collected):
    from pipeline.cli import main

    settings = pmlr_collected["settings"]
    raw = settings.raw_dir / "papers"
    before = sorted(p.name for p in raw.iterdir())
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["collect", "papers"]) == 0
    log = err.getvalue()
    assert "0 PDFs due (62 papers already done)" in log and "unchanged" in log
    assert sorted(p.name for p in raw.iterdir()) == before  # no new snapshot folder
    assert not list(raw.glob("*/pdfs/**/*.pdf"))  # PDFs are read, not kept
