"""What the fake proceedings sites serve: a catalog of meetings and papers, and their PDFs.

PDFs are generated with reportlab (one page, DejaVu Sans from matplotlib's own fonts so that
ligatures such as "ﬂ" are real glyphs), from lines of text chosen per paper. `BODIES` names
the kinds of paper the tests use; `hostile()` builds files meant to hurt a parser: truncated,
not a PDF, encrypted, a decompression bomb (a content stream of spaces referenced 64 times:
2 GiB once inflated) and one that keeps a parser busy (a page tree of 60,000 page references).

The default catalog (`default_catalog`) holds the 2024 and 2025 meetings of the nine
conferences (complete years), part of 2026 (NeurIPS, EMNLP and NAACL 2026 are not published),
Findings volumes, and the comparison meetings (ICLR 2022, ICML 2021, NeurIPS 2020, CVPR 2020,
ECCV 2018, ACL 2020). Its authors are one per paper, except MOVERS, who write papers in both
2024 and 2025 so that the author migration has known flows.
"""

from __future__ import annotations

import functools
import io
import zlib
from dataclasses import dataclass, field

#: the text of each kind of paper; the words the rules must find are in `FOUND`
BODIES = {
    "pt": ["We implement every model in PyTorch 2.1 on one GPU."],
    "tf": ["Our implementation uses TensorFlow and Keras."],
    "both": ["We port the PyTorch model to TensorFlow for serving."],
    "none": ["We prove a bound; no implementation is needed (see Flaxman, 2005)."],
    "jax": ["Experiments run in JAX with Flax on TPUs."],
    "pt_jax": ["A PyTorch baseline and a JAX re-implementation."],
    "hyphen": ["All code is written in Py-", "Torch and released."],  # split at a line end
    "ligature": ["Training used Tensor\ufb02ow 2 and its data pipeline."],  # the fl ligature
    "near": ["We compare with GPyTorch and the method of Flax-", "man et al."],  # near misses
    "fairseq": ["Translation models come from fairseq."],
    "mlx": ["Inference runs in MLX on a laptop."],
}
FOUND = {"pt": {"pytorch"}, "tf": {"tensorflow", "keras"}, "both": {"pytorch", "tensorflow"},
         "none": set(), "jax": {"jax", "flax"}, "pt_jax": {"pytorch", "jax"},
         "hyphen": {"pytorch"}, "ligature": {"tensorflow"}, "near": set(),
         "fairseq": {"fairseq"}, "mlx": {"mlx"}}


@dataclass
class FakePaper:
    pid: str
    title: str
    authors: list[str]
    body: str = "none"  # a key of BODIES, or a key of hostile()
    author_ids: list[str] = field(default_factory=list)

    @property
    def pdf(self) -> bytes:
        return hostile()[self.body] if self.body in hostile() else paper_pdf(
            self.title, tuple(BODIES[self.body]))


@functools.cache
def _font() -> str:
    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont("DejaVu", f"{matplotlib.get_data_path()}/fonts/ttf/"
                                             "DejaVuSans.ttf"))
    return "DejaVu"


@functools.cache
def paper_pdf(title: str, lines: tuple[str, ...], password: str | None = None) -> bytes:
    """A one-page PDF: the title, then each line at the left margin (a line ending in "-"
    continues on the next, as hyphenation does)."""
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    encrypt = pdfencrypt.StandardEncryption(password, ownerPassword="owner", strength=128) \
        if password else None
    pdf = canvas.Canvas(buffer, invariant=1, encrypt=encrypt)
    pdf.setFont(_font(), 11)
    y = 760
    for line in (title, "", *lines, "", "References: Smith et al., 2020."):
        pdf.drawString(72, y, line)
        y -= 14
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _raw_pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def _page_pdf(kids: bytes, count: int, content: bytes) -> bytes:
    return _raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        content,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"])


@functools.cache
def hostile() -> dict[str, bytes]:
    good = paper_pdf("A perfectly good paper", tuple(BODIES["pt"]))
    deflate = zlib.compressobj(1)
    spaces = b" " * (1 << 20)
    stream = b"".join(deflate.compress(spaces) for _ in range(32)) + deflate.flush()
    bomb = _raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ["
        + b" ".join([b"4 0 R"] * 64) + b"] >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream
        + b"\nendstream"])
    text = b"BT /F1 12 Tf 72 700 Td (" + b"busy page " * 30 + b") Tj ET"
    busy = _page_pdf(b" ".join([b"3 0 R"] * 60_000), 60_000,
                     b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream")
    return {
        "truncated": good[: len(good) // 2],
        "not_pdf": b"<!DOCTYPE html><html><body>Paper not found</body></html>",
        "encrypted": paper_pdf("A locked paper", tuple(BODIES["pt"]), password="secret"),
        "bomb": bomb,
        "busy": busy,
    }


# -- the catalog ------------------------------------------------------------------------------

#: (conference, year, track) -> papers
Catalog = dict[tuple[str, int, str], list[FakePaper]]
#: authors writing in 2024 and again in 2025: name -> (2024 kind, 2025 kind)
MOVERS = {
    "Tina Flow": ("tf", "pt"),        # TensorFlow only -> PyTorch
    "Tom Flowers": ("tf", "tf"),      # TensorFlow only -> TensorFlow
    "Theo Tensor": ("tf", "both"),    # TensorFlow only -> both
    "Pat Torch": ("pt", "pt"),        # PyTorch only -> PyTorch
    "Paula Torres": ("pt", "tf"),     # PyTorch only -> TensorFlow
    "Bo Both": ("both", "tf"),        # both -> TensorFlow
}
#: the meetings of each year, and the kinds of their papers (besides the movers')
YEAR_MEETINGS = {
    2024: [("ICLR", ["pt", "tf", "jax"]), ("ICML", ["pt", "pt_jax", "none"]),
           ("NeurIPS", ["pt", "hyphen", "tf"]), ("CVPR", ["pt", "ligature", "near"]),
           ("ECCV", ["pt", "tf"]), ("ACL", ["pt", "fairseq"]), ("EMNLP", ["tf", "pt"]),
           ("NAACL", ["pt"])],
    2025: [("ICLR", ["pt", "jax", "pt"]), ("ICML", ["pt", "jax", "mlx"]),
           ("NeurIPS", ["pt", "pt", "tf"]), ("CVPR", ["pt", "both", "none"]),
           ("ICCV", ["pt", "tf"]), ("ACL", ["pt", "pt"]), ("EMNLP", ["pt", "jax"]),
           ("NAACL", ["tf"])],
    2026: [("ICLR", ["pt", "jax"]), ("ICML", ["pt"]), ("CVPR", ["pt", "tf"]),
           ("ACL", ["pt"])],
}
#: where the movers publish: (year, conference)
MOVER_VENUES = {2024: ["ICLR", "ICML", "CVPR", "ACL", "NeurIPS", "EMNLP"],
                2025: ["NeurIPS", "ICLR", "ACL", "CVPR", "ICCV", "ICML"]}
COMPARE = [("ICLR", 2022, ["pt", "tf"]), ("ICML", 2021, ["pt", "both"]),
           ("NeurIPS", 2020, ["tf", "pt"]), ("CVPR", 2020, ["pt", "tf", "none"]),
           ("ECCV", 2018, ["tf", "pt"]), ("ACL", 2020, ["pt", "tf"])]
FINDINGS = {("ACL", 2024): ["pt", "tf"], ("EMNLP", 2025): ["pt", "jax"],
            ("NAACL", 2025): ["tf"]}


def _pid(conference: str, year: int, track: str, index: int) -> str:
    stem = {"ICLR": "or", "ICML": "icml", "NeurIPS": "0123456789abcdef0123456789abcd",
            "CVPR": "Author_CVPR", "ICCV": "Author_ICCV", "ECCV": "", "ACL": "acl",
            "EMNLP": "emnlp", "NAACL": "naacl"}[conference]
    if conference == "NeurIPS":
        return f"{stem}{year % 100:02d}{index}"  # a 32-hex hash
    if conference == "ECCV":
        return str(100 + index)
    return f"{stem}{year}{track[0]}{index}"


def default_catalog() -> Catalog:
    catalog: Catalog = {}

    def add(conference: str, year: int, track: str, kinds: list[str],
            authors: list[list[str]] | None = None) -> None:
        papers = catalog.setdefault((conference, year, track), [])
        for kind, names in zip(kinds, authors or [None] * len(kinds), strict=True):
            index = len(papers) + 1
            names = names or [f"{conference} {year} {track} Author {index}",
                              f"Second Author {conference}{year}{track}{index}"]
            papers.append(FakePaper(_pid(conference, year, track, index),
                                    f"{conference} {year} paper {index}: a {kind} study",
                                    names, kind, [f"~{n.replace(' ', '_')}1" for n in names]))

    for year, meetings in YEAR_MEETINGS.items():
        for conference, kinds in meetings:
            add(conference, year, "main", kinds)
    for index, (name, kinds) in enumerate(MOVERS.items()):
        for year, kind in zip((2024, 2025), kinds, strict=True):
            add(MOVER_VENUES[year][index], year, "main", [kind], [[name]])
    for (conference, year), kinds in FINDINGS.items():
        add(conference, year, "findings", kinds)
    for conference, year, kinds in COMPARE:
        add(conference, year, "main", kinds)
    return catalog


def of(catalog: Catalog, *conferences: str) -> Catalog:
    return {k: v for k, v in catalog.items() if k[0] in conferences}
