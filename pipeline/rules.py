"""Shared counting rules: which frameworks a job posting names, which repository a link points to.

Sources apply them while collecting (the HN source stores per-posting flags; the Papers with
Code source asks GitHub about each canonical repository once) and analyses re-apply them to the
stored data. Both import them from here, so a source never imports an analysis. A change here
changes every analysis' code hash (`pipeline.analysis`), so the next `analyze` re-applies it.
The rules are stated with their reasons in docs/methodology/jobs.md, papers_with_code.md and
research.md.

**Job postings** (`match_frameworks`), on the visible text (tags replaced by spaces, entities
unescaped), whole words (the neighbouring character is not a letter or digit):

* PyTorch: "pytorch", optionally with a version ("PyTorch2"); "torch" alone does not count.
* TensorFlow: "tensorflow" (also TensorFlow.js / Lite / 2), "tfjs", "tf.js", "tflite",
  "tf.keras"; a bare "TF" / "TF2" does not count (in job posts: Terraform, Team Fortress 2).
* Keras: "keras" (also inside "tf.keras").
* JAX: the word "jax", never the Java APIs (JAX-RS, JAX-WS, JAX-RPC, JAX-B, JAX-P), an e-mail
  address or handle (jax@..., @jax), or the airport code of Jacksonville (Jacksonville,
  Florida or FL within 40 characters). It then counts when ONE of these holds:
  1. an unambiguous form: "jax.<name>" (jax.numpy, jax.jit), "jaxlib", "Google('s) JAX";
  2. it is listed next to another ML framework or tool, in any case ("PyTorch/Jax",
     "JAX, Flax", "Jax & Keras": separators / , & + and or);
  3. it is written "JAX" or "jax" - not "Jax", the spelling of a first name - and an ML word
     appears within 80 characters (PyTorch, TensorFlow, Keras, Flax, Optax, XLA, TPU, GPU,
     CUDA, NumPy, ML, machine learning, deep learning, neural, LLM, transformer, autodiff).

**Papers with Code repository identity** (`repo_identity_sql`): see REPO_STEPS; one identity
per repository (host + owner + name, case-folded on GitHub, GitLab and Bitbucket), or per
sub-folder project of a repository (`<repository>/tree/HEAD/<path>`).

**Conference papers** (`paper_words`, on the text of a paper's PDF): Horace He's words and
synonyms (pytorch, allennlp, opennmt-py, torchvision, fairseq -> PyTorch; tensorflow, opennmt-tf,
keras -> TensorFlow; jax), plus flax and mlx reported on their own. The text is made comparable
first: a hyphen at the end of a line joins the line to the next ("Py-" + "Torch"; PDFium marks
such hyphens U+FFFE), Unicode NFKC undoes ligatures ("ﬂ" -> "fl"), and case is folded. A word
counts where no letter stands directly before or after it: "GPyTorch" and "Flaxman" do not
count, "PyTorch-based", "pytorch_tabular" and "github.com/tensorflow/..." do.

**Package downloads** (`framework_packages`, `COUNTED_ROLES`): which PyPI packages are a
framework's downloads. The packages and their roles are reference data
(data/reference/framework_packages.csv); the headline reading counts the packages a user
installs to get the framework (roles core, variant, nightly), never a package another one pulls
in (dependency), a library built on it or a compatibility shim; the alternative reading counts
the core package only. Stated with reasons in docs/methodology/pypi_downloads.md.

**The other two rounds** (`rounds_packages`): the deployment and ecosystem packages of the
article's rounds 2 and 3 (data/reference/rounds_packages.csv), each with its registry, side
(pytorch / tensorflow / neutral), round, tool and first month. A tool's downloads are the sum of
its packages (a renamed package and its new name are one tool), each counted from its first
month only (a name held by another project before, or placeholders, never count); neutral tools
are shown but never in a side's share. Stated in docs/methodology/rounds.md.

**Hub framework families** (`hub_frameworks`, `hub_framework_tags_sql`, `hub_family_sql`): the
table `data/reference/hub_frameworks.csv` maps Hub tags and `library_name` values (compared
case-insensitively) to the families of HUB_FAMILIES, each with its reason. Two readings:
`tags` (a model belongs to every family whose tags it carries) and `library` (the tags reading;
for a model with no framework tag, the family of its library). A model may be in several
families; one with none is "unresolved". Stated in docs/methodology/hf_models.md.
"""

from __future__ import annotations

import csv
import functools
import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipeline.config import REFERENCE_DIR

# -- job postings ------------------------------------------------------------------------

FRAMEWORKS = ("pytorch", "tensorflow", "jax", "keras")
LABELS = {"pytorch": "PyTorch", "tensorflow": "TensorFlow", "jax": "JAX", "keras": "Keras"}
_START = r"(?<![a-z0-9])"
_END = r"(?![a-z0-9])"
#: word rules of the frameworks that need no context (JAX: see `mentions_jax`)
RULES = {
    "pytorch": re.compile(rf"{_START}pytorch(?:\d+(?:\.\d+)*)?{_END}", re.IGNORECASE),
    "tensorflow": re.compile(
        rf"{_START}(?:tensorflow(?:\d+(?:\.\d+)*)?|tfjs|tf\.js|tflite|tf\.keras){_END}",
        re.IGNORECASE),
    "keras": re.compile(rf"{_START}keras{_END}", re.IGNORECASE),
}
#: every text a rule above (or JAX_WORD) matches holds one of these words, case-folded:
#: `match_frameworks` skips the rules on a posting without any. Change both together.
KEYWORDS = ("pytorch", "tensorflow", "tfjs", "tf.js", "tflite", "tf.keras", "keras", "jax")
#: a "jax" word that is not a Java API ("JAXB" is no word match anyway) nor an e-mail/handle
#: (`jaxlib` is matched too: rule 1)
JAX_WORD = re.compile(r"(?<![a-z0-9@])jax(?:lib)?(?![a-z0-9@])(?!-(?:rs|ws|rpc|b|p)(?![a-z0-9]))",
                      re.IGNORECASE)
_ML_TOOLS = r"(?:pytorch|tensorflow|keras|flax|optax|xla|numpy|triton|cuda|haiku)"
_LIST_SEP = r"\s*(?:/|,|&|\+|\band\b|\bor\b)\s*"
#: rule 1 (around the word): "Google JAX" before it, "jax.<name>" after it
JAX_GOOGLE_BEFORE = re.compile(r"(?<![a-z0-9])google(?:'s|’s)?\s+$", re.IGNORECASE)
JAX_MODULE_AFTER = re.compile(r"\.[a-z_]", re.IGNORECASE)
#: rule 2: listed next to another ML framework or tool
JAX_LISTED_BEFORE = re.compile(rf"{_START}{_ML_TOOLS}{_LIST_SEP}$", re.IGNORECASE)
JAX_LISTED_AFTER = re.compile(rf"{_LIST_SEP}{_ML_TOOLS}{_END}", re.IGNORECASE)
#: rule 3: an ML word nearby (the word itself not spelled "Jax")
JAX_ML_CONTEXT = re.compile(
    rf"{_START}(?:pytorch|tensorflow|keras|flax|optax|xla|tpus?|gpus?|cuda|numpy|ml|"
    rf"machine learning|deep learning|neural|llms?|transformers?|autodiff){_END}", re.IGNORECASE)
JAX_CONTEXT_CHARS = 80
#: never: Jacksonville's airport code ("Jacksonville, FL (JAX)")
JAX_PLACE = re.compile(r"jacksonville|florida|(?<![a-z0-9])fl(?![a-z0-9])", re.IGNORECASE)
JAX_PLACE_CHARS = 40
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


#: a numeric reference beyond Unicode (html.unescape gives U+FFFD for it, but raises on one of
#: over 4,300 digits, Python's limit for int())
_HUGE_CHARREF = re.compile(r"&#(?:[xX]0*[1-9a-fA-F][0-9a-fA-F]{8,}|0*[1-9][0-9]{9,});?")


def plain_text(text: str) -> str:
    """A posting's visible text: tags replaced by spaces, entities unescaped, spaces collapsed."""
    text = _HUGE_CHARREF.sub("\ufffd", _TAG.sub(" ", text or ""))
    return _SPACE.sub(" ", html.unescape(text)).strip()


def _near(pattern: re.Pattern, plain: str, start: int, end: int, chars: int) -> bool:
    """A match of `pattern` starts within `chars` characters of plain[start:end] (matched on
    the whole text, so word boundaries at the window's edges stay real)."""
    match = pattern.search(plain, max(0, start - chars))
    return match is not None and match.start() < end + chars


def _jax_word_counts(plain: str, start: int, end: int) -> bool:
    """Rules 1-3 and the place exclusion for the "jax" word at plain[start:end]."""
    if end - start > 3:  # jaxlib
        return True
    if _near(JAX_PLACE, plain, start, end, JAX_PLACE_CHARS):
        return False
    before, after = plain[max(0, start - 30):start], plain[end:end + 30]
    if JAX_GOOGLE_BEFORE.search(before) or JAX_MODULE_AFTER.match(after):
        return True
    if JAX_LISTED_BEFORE.search(before) or JAX_LISTED_AFTER.match(after):
        return True
    return plain[start:end] != "Jax" and _near(JAX_ML_CONTEXT, plain, start, end,
                                               JAX_CONTEXT_CHARS)


def mentions_jax(plain: str) -> bool:
    """True when the visible text names Google's JAX, by the rules above."""
    return any(_jax_word_counts(plain, w.start(), w.end()) for w in JAX_WORD.finditer(plain))


#: entities that can stand for a keyword's character (numeric ones, and "&period;"); a longer
#: number is read by its first digits only: at worst the rules run when they need not
_CHAR_ENTITY = re.compile(r"&(?:#(x0*[0-9a-f]{1,8}|0*[0-9]{1,9})|period;)")


def _fold(text: str) -> str:
    """Case-folded as the rules' IGNORECASE matches: casefold() maps "ſ" to s and the Kelvin
    sign to k; Python's re also lets a dotless "ı" match i."""
    return text.casefold().replace("ı", "i")


@functools.cache
def _entity_spells_keyword_char(code: str, keywords: tuple[str, ...]) -> bool:
    """`code` (the part of "&#...;" after "#", or "" for "&period;") decodes to a letter or
    dot that one of `keywords` uses (cached per code and keyword list)."""
    if not code:
        return True
    point = int(code[1:], 16) if code[0] == "x" else int(code)
    return point < 0x110000 and any(c in word for c in _fold(chr(point)) for word in keywords)


def _encodes_keyword_char(folded: str) -> bool:
    """An entity in the (folded) HTML decodes to a letter or dot that some keyword uses."""
    return "&" in folded and any(_entity_spells_keyword_char(code, KEYWORDS)
                                 for code in set(_CHAR_ENTITY.findall(folded)))


def match_frameworks(text: str) -> dict[str, bool]:
    """Which frameworks a posting (HTML as served) mentions, by the rules above.

    Most postings name no framework (~97% of the HN mirror's), and turning HTML into visible
    text costs most of the time; so the rules run only on postings whose HTML holds a keyword,
    or an entity that could spell part of one. Removing tags only splits words and unescaping
    is the only way to make a letter, so the answer is the same either way."""
    folded = _fold(text or "")
    if not any(word in folded for word in KEYWORDS) and not _encodes_keyword_char(folded):
        return dict.fromkeys(FRAMEWORKS, False)
    return match_plain(plain_text(text))


def match_plain(plain: str) -> dict[str, bool]:
    """The rules above on a posting's visible text (see `plain_text`)."""
    return {name: mentions_jax(plain) if name == "jax" else bool(RULES[name].search(plain))
            for name in FRAMEWORKS}


# -- Papers with Code: the canonical repository identity ---------------------------------

#: hosts whose owner and repository names are case-insensitive (the whole URL is case-folded)
FORGES = ("github.com", "gitlab.com", "bitbucket.org")
_FORGE = "(?:" + "|".join(re.escape(host) for host in FORGES) + ")"
#: forge URL -> (repository: host + owner + name, GitLab with its sub-groups; rest of the path)
_GITHUB_LIKE = r"^(https://(?:github\.com|bitbucket\.org)/[^/]+/[^/]+?)(?:\.git)?(/.*)?$"
_GITLAB = r"^(https://gitlab\.com/.+?)(?:\.git)?((?:/-)?/(?:tree|blob)/.*|/-/.*)?$"
_FOLDER_LINK = r"^(?:/-)?/(?:tree|src)/[^/]+/(.+)$"   # /tree/<branch>/<path>
_FILE_LINK = r"^(?:/-)?/blob/[^/]+/(.+)/[^/]+$"        # /blob/<branch>/<path>/<file>
#: the parse the `repo` step rests on (columns of the result, not steps themselves):
#: `repository` = host + owner + name on a forge (else the whole URL), `subfolder` = the path
#: of a link into a sub-folder (/tree/<branch>/<path>, /blob/<branch>/<path>/<file>, Bitbucket's
#: /src/<branch>/<path>), else NULL. One regular expression per URL: they run over every
#: distinct link of the archive (~250k).
_FORGE_PARTS = [
    ("forge", f"""CASE WHEN starts_with(suffix_dropped, 'https://gitlab.com/')
                       THEN regexp_extract(suffix_dropped, '{_GITLAB}', ['repository', 'rest'])
                       WHEN starts_with(suffix_dropped, 'https://github.com/')
                            OR starts_with(suffix_dropped, 'https://bitbucket.org/')
                       THEN regexp_extract(suffix_dropped, '{_GITHUB_LIKE}',
                                           ['repository', 'rest']) END"""),
    ("repository", "coalesce(nullif(forge.repository, ''), suffix_dropped)"),
    ("subfolder", f"""CASE WHEN forge.rest LIKE '/%/%/%' THEN coalesce(
                          nullif(regexp_extract(forge.rest, '{_FOLDER_LINK}', 1), ''),
                          nullif(regexp_extract(forge.rest, '{_FILE_LINK}', 1), '')) END"""),
]

#: (column, what the step folds, SQL over the previous step's column): applied in order.
#: Every step is a column of `repo_identity_sql`'s result; `out_pwc__normalisation` counts
#: what each one merges.
REPO_STEPS = [
    ("scheme_folded",
     "scheme and host prefix: http://, https://, git://, ssh://git@, git+https://, no scheme, "
     "www. and scp-style git@host:owner/name all become https://host/owner/name",
     r"""regexp_replace(
            regexp_replace(trim(repo_url), '^git@([^:/]+):', 'https://\1/', 'i'),
            '^(?:(?:git\+)?(?:https?|git|ssh)://)?(?:git@)?(?:www\.)?', 'https://', 'i')"""),
    ("case_folded",
     "case: the host always; the whole URL on GitHub, GitLab and Bitbucket, whose owner and "
     "repository names are case-insensitive (other hosts keep the path's case)",
     rf"""CASE WHEN regexp_matches(scheme_folded, '^https://{_FORGE}([/?#:]|$)', 'i')
               THEN lower(scheme_folded)
               ELSE lower(regexp_extract(scheme_folded, '^https://[^/?#]*'))
                    || regexp_replace(scheme_folded, '^https://[^/?#]*', '') END"""),
    ("suffix_dropped",
     "fragment (#readme), query (?tab=...), trailing slashes and a trailing .git dropped",
     r"""regexp_replace(regexp_replace(case_folded, '[?#].*$', ''), '(?:\.git)?/*$', '')"""),
    ("repo",
     "pages of a GitHub/GitLab/Bitbucket repository folded into it: /tree/<branch>, "
     "/blob/<branch>/<file at the root>, /issues, /releases, ...; a link into a sub-folder "
     "(/tree/<branch>/<path>, /blob/<branch>/<path>/<file>) is the sub-folder project "
     "<repository>/tree/HEAD/<path>, whatever the branch",
     "repository || coalesce('/tree/HEAD/' || subfolder, '')"),
]
#: the alternative the `repo` step does NOT apply; out_pwc__normalisation shows its effect
SUBFOLDER_FOLDED = ("repository", "not applied - sub-folder projects folded into their "
                    "repository (each sub-folder project is its own implementation)")


def repo_identity_sql(links_sql: str) -> str:
    """One row per distinct `repo_url` of `links_sql` (a query with a `repo_url` column).

    Columns: repo_url, one column per REPO_STEPS step (the last, `repo`, is the identity),
    `repository` (host + owner + name), `subfolder` (the sub-folder path, or NULL) and
    `github_repo` (owner/name on github.com, else NULL: what the GitHub look-up asks for).
    Each stage is one nested SELECT, so every expression runs once per distinct URL.
    """
    query = (f"SELECT DISTINCT repo_url FROM ({links_sql}) "
             "WHERE nullif(trim(repo_url), '') IS NOT NULL")
    stages = [(column, expression) for column, _, expression in REPO_STEPS]
    stages[-1:-1] = _FORGE_PARTS
    for column, expression in stages:
        query = f"SELECT *, {expression} AS {column} FROM ({query})"
    return f"""
        SELECT * EXCLUDE (forge),
               nullif(regexp_extract(repository, '^https://github\\.com/([^/]+/[^/]+)$', 1), '')
                   AS github_repo
        FROM ({query})"""


def repo_identities(urls: list[str]) -> dict[str, str]:
    """{url: identity} for a few URLs, by the SQL above (for tests and the methodology docs)."""
    import duckdb  # here, not at the top: PDF worker processes import this module

    sql = repo_identity_sql("SELECT unnest($urls::VARCHAR[]) AS repo_url")
    with duckdb.connect() as con:
        return dict(con.execute(f"SELECT repo_url, repo FROM ({sql})", {"urls": urls}).fetchall())


# -- conference papers: words in a paper's full text ---------------------------------------

#: framework -> the words that count as a mention of it (Horace He's synonyms in
#: Chillee/pytorch-vs-tensorflow, data_analysis/generate_data.py; flax and mlx added on their own)
PAPER_WORDS = {
    "pytorch": ("pytorch", "allennlp", "opennmt-py", "torchvision", "fairseq"),
    "tensorflow": ("tensorflow", "opennmt-tf", "keras"),
    "jax": ("jax",),
    "flax": ("flax",),
    "mlx": ("mlx",),
}
PAPER_FRAMEWORKS = tuple(PAPER_WORDS)
#: a tracked word with no letter directly before or after it (digits, "_", "-", "/" may touch)
_PAPER_WORD = re.compile(
    r"(?<![^\W\d_])("
    + "|".join(sorted({re.escape(w) for ws in PAPER_WORDS.values() for w in ws}, key=len,
                      reverse=True))
    + r")(?![^\W\d_])")
#: a hyphen at the end of a line: PDFium's marker U+FFFE (with or without the line break it
#: stands for), or a plain "-" right before a line break
_LINE_END_HYPHEN = re.compile(r"(?:\ufffe[ \t]*(?:\r\n|\r|\n)?|-[ \t]*(?:\r\n|\r|\n))[ \t]*")


def paper_text(raw: str) -> str:
    """A PDF's extracted text made comparable: line-end hyphens joined, NFKC, case folded."""
    return unicodedata.normalize("NFKC", _LINE_END_HYPHEN.sub("", raw)).casefold()


def paper_words(raw: str) -> dict[str, int]:
    """How often each tracked word occurs in a PDF's extracted text, by the rules above."""
    counts: dict[str, int] = {}
    for match in _PAPER_WORD.finditer(paper_text(raw)):
        counts[match[1]] = counts.get(match[1], 0) + 1
    return counts


def paper_frameworks(words: list[str] | dict[str, int]) -> dict[str, bool]:
    """Which frameworks a paper mentions, from the tracked words found in it."""
    found = set(words)
    return {fw: bool(found & set(ws)) for fw, ws in PAPER_WORDS.items()}


#: the nine conferences of Horace He's series (the headline series counts these only)
PAPER_CONFERENCES = ("ICLR", "NeurIPS", "ICML", "CVPR", "ICCV", "ECCV", "ACL", "EMNLP", "NAACL")


def scheduled_conferences(year: int) -> tuple[str, ...]:
    """The conferences a complete year must hold: every annual one, ICCV in odd years and ECCV
    in even years. NAACL is not held every year: it counts when it is listed, but a year is
    complete without it."""
    return tuple(c for c in PAPER_CONFERENCES if c != "NAACL" and not (
        c == "ICCV" and year % 2 == 0 or c == "ECCV" and year % 2 == 1))


# -- package downloads: which PyPI packages are a framework's downloads ------------------

FRAMEWORK_PACKAGES_FILE = REFERENCE_DIR / "framework_packages.csv"
PYPI_FRAMEWORKS = {"pytorch": "PyTorch", "tensorflow": "TensorFlow", "jax": "JAX",
                   "keras": "Keras", "mlx": "MLX", "onnx": "ONNX Runtime"}
PACKAGE_ROLES = {
    "core": "the framework's own package",
    "variant": "another build of it, installed instead of the core package (CPU/GPU/platform)",
    "nightly": "its nightly build, installed instead of the core package",
    "dependency": "pulled in by another package of the framework: the same install again",
    "library": "a library built on the framework (it pulls the framework)",
    "compat": "a compatibility package (it pulls the framework)",
}
#: reading -> the roles whose downloads count as the framework's: `install` is the headline
#: (each counted package is a separate way to install the framework, so no install is counted
#: twice), `core` the alternative (the core package only)
COUNTED_ROLES = {"install": ("core", "variant", "nightly"), "core": ("core",)}
READINGS = tuple(COUNTED_ROLES)
#: a normalised PyPI project name (PEP 503: lower case, runs of - _ . as one -), as PyPI's
#: download logs name projects
PYPI_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")
#: names the download query uses for its own columns: refused as package names
RESERVED_NAMES = ("month", "project", "count", "result_rows")


@dataclass(frozen=True)
class FrameworkPackage:
    package: str
    framework: str
    role: str
    note: str


def canonical_pypi_name(name: str) -> str:
    """PEP 503 normalisation: 'TF_Keras' -> 'tf-keras'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_pypi_name(name: object) -> bool:
    """A normalised PyPI name that is safe to put in a query (and not a reserved word)."""
    return (isinstance(name, str) and bool(PYPI_NAME.fullmatch(name))
            and "--" not in name and name not in RESERVED_NAMES)


def framework_packages(path: Path | None = None) -> list[FrameworkPackage]:
    """The packages of data/reference/framework_packages.csv, checked: every row names a
    normalised PyPI package once, a known framework and a known role (ValueError naming the
    file and line otherwise)."""
    path = path or FRAMEWORK_PACKAGES_FILE
    rows: list[FrameworkPackage] = []
    for where, row in _reference_rows(path, {"package", "framework", "role", "note"}):
        name = (row["package"] or "").strip()
        if not is_pypi_name(name):
            raise ValueError(f"{where}: {name!r} is not a normalised PyPI name "
                             f"(write {canonical_pypi_name(name)!r})")
        if any(r.package == name for r in rows):
            raise ValueError(f"{where}: {name} is listed twice")
        if row["framework"] not in PYPI_FRAMEWORKS:
            raise ValueError(f"{where}: unknown framework {row['framework']!r} "
                             f"(known: {', '.join(PYPI_FRAMEWORKS)})")
        if row["role"] not in PACKAGE_ROLES:
            raise ValueError(f"{where}: unknown role {row['role']!r} "
                             f"(known: {', '.join(PACKAGE_ROLES)})")
        rows.append(FrameworkPackage(name, row["framework"], row["role"],
                                     (row["note"] or "").strip()))
    return rows


def _reference_rows(path: Path, columns: set[str]) -> list[tuple[str, dict]]:
    """('<file>, line N', row) for each row of a reference CSV that has `columns` and at least
    one row; ValueError naming the file otherwise."""
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            missing = columns - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            rows = [(f"{path.name}, line {line}", row)
                    for line, row in enumerate(reader, start=2)]
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not rows:
        raise ValueError(f"{path}: no packages listed")
    return rows


def reference_digest() -> str:
    """The content of the reference files these rules read (part of every analysis' inputs)."""
    import hashlib

    digest = hashlib.sha256()
    for path in (FRAMEWORK_PACKAGES_FILE, ROUNDS_PACKAGES_FILE, HUB_FRAMEWORKS):
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def pypi_packages() -> list[str]:
    """Every PyPI package whose monthly downloads the pypi_downloads source collects: the
    frameworks' packages and the PyPI packages of the other two rounds, in one query."""
    return sorted({p.package for p in framework_packages()}
                  | {p.package for p in rounds_packages() if p.registry == "pypi"})


def npm_packages() -> dict[str, date]:
    """The npm packages of the other two rounds, with the first month to ask for."""
    return {p.package: p.first_month for p in rounds_packages() if p.registry == "npm"}


# -- the other two rounds: deployment and ecosystem packages ---------------------------------

ROUNDS_PACKAGES_FILE = REFERENCE_DIR / "rounds_packages.csv"
ROUNDS = {"deployment": "Round 2: deployment", "ecosystem": "Round 3: ecosystem"}
SIDES = {"tensorflow": "TensorFlow", "pytorch": "PyTorch", "neutral": "neutral"}
REGISTRIES = ("pypi", "npm")
#: an npm package name: lower case, optionally scoped (@scope/name), URL-safe characters only
NPM_NAME = re.compile(r"^(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class RoundsPackage:
    package: str
    registry: str
    side: str
    round: str
    tool: str
    first_month: date
    note: str


def is_npm_name(name: object) -> bool:
    return isinstance(name, str) and len(name) <= 214 and bool(NPM_NAME.fullmatch(name))


def rounds_packages(path: Path | None = None) -> list[RoundsPackage]:
    """The packages of data/reference/rounds_packages.csv, checked: a valid name for its
    registry, listed once; a known side and round; a tool with one side and one round whatever
    its packages (renames are joined into one tool); a first month YYYY-MM."""
    path = path or ROUNDS_PACKAGES_FILE
    columns = {"package", "registry", "side", "round", "tool", "first_month", "note"}
    rows: list[RoundsPackage] = []
    tools: dict[str, tuple[str, str]] = {}
    for where, row in _reference_rows(path, columns):
        name, registry = (row["package"] or "").strip(), row["registry"]
        if registry not in REGISTRIES:
            raise ValueError(f"{where}: unknown registry {registry!r} "
                             f"(known: {', '.join(REGISTRIES)})")
        valid = is_pypi_name(name) if registry == "pypi" else is_npm_name(name)
        if not valid:
            raise ValueError(f"{where}: {name!r} is not a normalised {registry} name")
        if any(r.package == name and r.registry == registry for r in rows):
            raise ValueError(f"{where}: {name} is listed twice")
        if row["side"] not in SIDES or row["round"] not in ROUNDS:
            raise ValueError(f"{where}: side must be one of {', '.join(SIDES)} and round one "
                             f"of {', '.join(ROUNDS)}")
        tool = (row["tool"] or "").strip()
        if not tool or tools.setdefault(tool, (row["side"], row["round"])) != \
                (row["side"], row["round"]):
            raise ValueError(f"{where}: tool {tool!r} needs one side and one round for all "
                             "its packages")
        month = _MONTH.fullmatch(row["first_month"] or "")
        if not month or not 1 <= int(month[2]) <= 12:
            raise ValueError(f"{where}: first_month {row['first_month']!r} is not YYYY-MM")
        rows.append(RoundsPackage(name, registry, row["side"], row["round"], tool,
                                  date(int(month[1]), int(month[2]), 1),
                                  (row["note"] or "").strip()))
    return rows


# -- HuggingFace Hub: framework families ---------------------------------------------------

HUB_FRAMEWORKS = REFERENCE_DIR / "hub_frameworks.csv"
#: family id -> label, in the order charts and tables show them
HUB_FAMILIES = {"pytorch": "PyTorch", "tensorflow": "TensorFlow/Keras", "jax": "JAX/Flax",
                "mlx": "MLX", "gguf": "GGUF", "onnx": "ONNX", "other": "other"}
HUB_READINGS = ("tags", "library")


@dataclass(frozen=True)
class FrameworkRule:
    kind: str  # "tag" or "library"
    value: str  # lower case
    family: str  # a key of HUB_FAMILIES
    reason: str


def hub_frameworks(path: Path | None = None) -> list[FrameworkRule]:
    """The mapping table, checked: known kinds and families, lower-case unique values and a
    reason on every row (a bad row raises ValueError naming the file and the line)."""
    rules: list[FrameworkRule] = []
    seen: set[tuple[str, str]] = set()
    for where, row in _reference_rows(path or HUB_FRAMEWORKS,
                                      {"kind", "value", "family", "reason"}):
        rule = FrameworkRule(*(str(row.get(k) or "").strip()
                               for k in ("kind", "value", "family", "reason")))
        problem = ("kind is not 'tag' or 'library'" if rule.kind not in ("tag", "library")
                   else f"unknown family {rule.family!r}" if rule.family not in HUB_FAMILIES
                   else "value is empty or not lower case"
                   if not rule.value or rule.value != rule.value.lower()
                   else "no reason given" if not rule.reason
                   else "duplicate value" if (rule.kind, rule.value) in seen else None)
        if problem:
            raise ValueError(f"{where}: {problem}")
        seen.add((rule.kind, rule.value))
        rules.append(rule)
    return rules


def hub_framework_tags_sql(tags: str, rules: list[FrameworkRule]) -> str:
    """SQL: the framework tags of a model's `tags` list, lower-cased (usually none or one: the
    family masks are then computed on that short list instead of on every tag)."""
    values = ", ".join(_sql_text(r.value) for r in rules if r.kind == "tag")
    return (f"list_filter(list_transform({tags}, lambda t: lower(t)), "
            f"lambda t: list_contains([{values}], t))")


def hub_family_sql(framework_tags: str, library: str,
                   rules: list[FrameworkRule]) -> tuple[str, str]:
    """SQL expressions giving family bit masks over HUB_FAMILIES (bit i = the i-th family):
    (families of the model's framework tags, family of its library alone). `framework_tags`
    is the list `hub_framework_tags_sql` gives, `library` a lower-case library name (or NULL).
    The library reading of a model is its tag mask when that is not 0, else its library mask
    (`library_reading`); 0 in a reading = unresolved."""
    bits = family_bits()
    tag_cases = " ".join(f"WHEN {_sql_text(r.value)} THEN {bits[r.family]}"
                         for r in rules if r.kind == "tag")
    library_cases = " ".join(f"WHEN {_sql_text(r.value)} THEN {bits[r.family]}"
                             for r in rules if r.kind == "library")
    tag_mask = (f"coalesce(list_aggregate(list_transform({framework_tags}, "
                f"lambda t: CASE t {tag_cases} ELSE 0 END), 'bit_or'), 0)" if tag_cases else "0")
    library_mask = f"coalesce(CASE {library} {library_cases} END, 0)" if library_cases else "0"
    return tag_mask, library_mask


def family_bits() -> dict[str, int]:
    return {family: 1 << i for i, family in enumerate(HUB_FAMILIES)}


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
