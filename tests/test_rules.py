"""The shared counting rules (pipeline/rules.py): JAX in job postings, and the canonical
repository identity of Papers with Code links. Counter-examples from the methodology review
(issue 15) and real posting text from the HN mirror (read in place, never copied)."""

from __future__ import annotations

import pytest

from pipeline.rules import match_frameworks, match_plain, plain_text, repo_identities
from tests.conftest import mirror_postings


def jax(text: str) -> bool:
    return match_frameworks(text)["jax"]


# -- JAX in job postings -----------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Acme Logistics | Backend Engineer | Jacksonville, FL (JAX) | Onsite",
    "Acme | ML Engineer (PyTorch, CUDA) | Jacksonville, FL (JAX) | Onsite",  # ML words nearby
    "Acme | Data Scientist | JAX, Florida or remote | machine learning on sensor data",
    "Our CTO Jax Miller built the first PyTorch models; apply to Jax directly.",
    "Questions? Write to jax@acme.ai - we train deep learning models on GPUs",
    "Ping @jax on our ML Discord",
    "Java backend: JAX-RS, jax-ws and JAXB services for our ML platform",
])
def test_jax_counter_examples_do_not_count(text):
    assert not jax(text)


@pytest.mark.parametrize("text", [
    "JAX/Flax on TPUs",
    "Jax, Keras 3",
    "pytorch/tensorflow/jax",
    "We use Google JAX for research code",
    "Google's JAX and Optax",
    "Experience with jax.numpy and jax.jit",
    "Our stack: jaxlib built from source",
    "PyTorch or Jax",
    "JAX: writing custom XLA kernels",  # uppercase JAX with an ML word nearby
    "experience in jax for large scale LLM training",
])
def test_jax_in_an_ml_sense_counts(text):
    assert jax(text)


def test_jax_on_real_mirror_postings():
    """Every mirror posting with the word "jax" (two, both ML stacks) still counts, and the
    same real text under a Jacksonville location line or signed by a "Jax" does not add any."""
    postings = mirror_postings()
    with_word = {i for i, t in postings.items() if "jax" in plain_text(t).lower()}
    assert with_word == {47229571, 48003121}
    assert {i for i, t in postings.items() if jax(t)} == with_word
    real = postings[47229571]  # "Expert in PyTorch, TensorFlow, JAX & low-level optimization"
    assert match_frameworks(real) == {"pytorch": True, "tensorflow": True, "jax": True,
                                      "keras": False}
    # real ML postings without JAX: a Jacksonville header or a recruiter named Jax adds none
    ml = [t for t in postings.values()
          if match_frameworks(t)["pytorch"] and "jax" not in t.lower()][:10]
    assert len(ml) == 10
    for text in ml:
        assert not jax("Jacksonville, FL (JAX) | Onsite<p>" + text)
        assert not jax(text + "<p>Apply to Jax, our recruiter.")


@pytest.mark.parametrize("text, names", [
    ("We train in &#80;yTorch", {"pytorch"}),          # a numeric entity spells a letter
    ("Demos in tf&period;js", {"tensorflow"}),          # a named entity spells the dot
    ("Deep learning with &#x4b;eras", {"keras"}),       # hex entity, upper case
    ("Deep learning with \u212aeras", {"keras"}),       # Kelvin sign: IGNORECASE matches k
    ("On-device: tfl\u0131te models", {"tensorflow"}),  # dotless i: IGNORECASE matches i
    ("Google ja&#x78; on TPUs", {"jax"}),
    ("Py<b>Torch</b> and Ke&shy;ras", set()),           # a tag or soft hyphen splits the word
    ("Go &amp; Postgres &#x2F; no ML&#x27;s here", set()),
    ("&#0000000080;yTorch with leading zeros", {"pytorch"}),
    ("&#" + "9" * 5000 + "; a hostile reference, then keras", {"keras"}),  # no int() overflow
])
def test_the_keyword_shortcut_never_changes_a_match(text, names):
    """match_frameworks skips the rules when the HTML holds no keyword and no entity that could
    spell one; the answer must equal the rules run on the visible text."""
    assert match_frameworks(text) == match_plain(plain_text(text))
    assert {n for n, hit in match_frameworks(text).items() if hit} == names


def test_the_keyword_shortcut_on_every_real_posting():
    postings = mirror_postings()
    got = {i: match_frameworks(t) for i, t in postings.items()}
    assert got == {i: match_plain(plain_text(t)) for i, t in postings.items()}
    assert 0 < sum(any(flags.values()) for flags in got.values()) < len(got)


# -- Papers with Code: one repository, one identity ---------------------------------------

#: the five spellings of one repository from the review (issue 15, item 1)
ONE_REPOSITORY = ["https://github.com/A/B", "https://github.com/a/b/tree/master",
                  "https://github.com/a/b/blob/main/README.md", "https://github.com/a/b#readme",
                  "git@github.com:a/b.git"]


def test_the_five_spellings_of_one_repository_are_one_identity():
    assert set(repo_identities(ONE_REPOSITORY).values()) == {"https://github.com/a/b"}


@pytest.mark.parametrize(("url", "identity"), [
    ("http://www.github.com/c/three/", "https://github.com/c/three"),
    ("HTTPS://GitHub.com/J/Ten.git", "https://github.com/j/ten"),
    ("github.com/x/y?tab=readme-ov-file", "https://github.com/x/y"),
    ("ssh://git@github.com/a/b.git", "https://github.com/a/b"),
    ("https://github.com/a/b/issues/3", "https://github.com/a/b"),
    # sub-folder links: their own project, branch dropped, whichever link form
    ("https://github.com/google-research/google-research/tree/master/newthing",
     "https://github.com/google-research/google-research/tree/HEAD/newthing"),
    ("https://github.com/google-research/google-research/tree/main/newthing/",
     "https://github.com/google-research/google-research/tree/HEAD/newthing"),
    ("https://github.com/google-research/google-research/blob/master/newthing/README.md",
     "https://github.com/google-research/google-research/tree/HEAD/newthing"),
    # GitLab sub-groups and its /-/ pages; Bitbucket's /src/
    ("https://gitlab.com/Group/Sub/Project/-/tree/main/model",
     "https://gitlab.com/group/sub/project/tree/HEAD/model"),
    ("https://gitlab.com/group/project/-/issues", "https://gitlab.com/group/project"),
    ("git@gitlab.com:Group/Project.git", "https://gitlab.com/group/project"),
    ("https://bitbucket.org/Owner/Name/src/master/", "https://bitbucket.org/owner/name"),
    # other hosts keep the path's case (it may matter there); only the host is folded
    ("https://WWW.Example.org/Lab/Code/", "https://example.org/Lab/Code"),
])
def test_identity_rules(url, identity):
    assert repo_identities([url])[url] == identity
