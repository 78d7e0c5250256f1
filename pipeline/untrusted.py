"""Every upstream is untrusted: the checks and escapes its names and text pass through, in one
place.

- `unsafe_name(rel)` says why a relative path taken from upstream data (a listed file name, a
  tree entry) must not become a file: `..`, absolute paths, backslashes, glob characters,
  control characters, empty or over-long parts. `pipeline.source.CollectContext` applies it
  (and a check that the normalised path stays inside the snapshot's staging folder) wherever a
  raw file is placed, so no source can write outside its folder, and DuckDB's readers, which
  treat `* ? [ ] { }` as globs, only ever see literal names.
- `markdown_text(text)` makes upstream text inert in Markdown (README, `sources.md`): control
  characters become spaces, HTML is escaped, Markdown punctuation is backslash-escaped and
  bare links are broken, so no link, image, HTML, table cell or publish marker can be injected.
- `csv_cell(value)` neutralises a spreadsheet formula (a text cell starting with `= + - @`, a
  tab or a carriage return gets a leading `'`), for every CSV we publish; numbers are left alone.
- `log_line(text)` escapes control characters, so upstream text cannot start a new log line
  (e.g. a GitHub Actions `::` workflow command) or move the terminal's cursor.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

#: the longest part of a path (most file systems' limit) and the longest whole relative path
MAX_NAME_BYTES = 255
MAX_PATH_CHARS = 1024
GLOB_CHARS = frozenset("*?[]{}")
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]|~])")
_BLOCK_START = ("#", "+", "-", "=", ">", ".", ")")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?$")


def is_control(char: str) -> bool:
    """C0/C1 controls, DEL, and invisible format characters (bidi overrides, zero widths)."""
    return unicodedata.category(char) in ("Cc", "Cf") or char in "\u2028\u2029"


def unsafe_name(rel: str) -> str | None:
    """Why `rel` (a relative path from upstream data) may not name a file; None when it may."""
    if not isinstance(rel, str) or not rel:
        return "empty name"
    if len(rel) > MAX_PATH_CHARS:
        return f"longer than {MAX_PATH_CHARS} characters"
    bad = next((c for c in rel if is_control(c)), None)
    if bad is not None:
        return f"control character U+{ord(bad):04X}"
    if "\\" in rel:
        return "backslash"
    glob = sorted(GLOB_CHARS.intersection(rel))
    if glob:
        return f"glob character {''.join(glob)!r}"
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
        return "absolute path"
    for part in rel.split("/"):
        if part in ("", ".", ".."):
            return f"path part {part!r}" if part else "empty path part"
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            return f"a part longer than {MAX_NAME_BYTES} bytes"
    return None


def shown(text: Any, limit: int = 120) -> str:
    """Upstream text as one short, printable line for an error message (repr-style escapes)."""
    value = str(text)
    short = value if len(value) <= limit else value[:limit] + "…"
    return repr(short) if any(is_control(c) for c in short) else f"'{short}'"


def plain_line(text: Any) -> str:
    """Text on one line with every control character replaced by a space."""
    return "".join(" " if is_control(c) else c for c in str(text))


def markdown_text(text: Any) -> str:
    """`text` safe to put in a Markdown table cell or paragraph: one line, no control
    characters, HTML escaped (no tag, comment or publish marker survives), the punctuation of
    links, images, code, emphasis and table cells escaped, and bare links broken (GitHub links
    `https://...` and `www....` by itself) with a zero-width space."""
    value = html.escape(plain_line(text), quote=False)
    value = _MARKDOWN_SPECIALS.sub(r"\\\1", value)
    if value[:1] in _BLOCK_START:  # a heading, list, quote or rule at the start of a line
        value = "\\" + value
    value = value.replace("://", ":\u200b//")
    return re.sub(r"(?i)\b(www)\.", "\\1.\u200b", value)


def csv_cell(value: Any) -> Any:
    """A value safe to write into a CSV a spreadsheet may open: text starting with a formula
    character (and not a plain number such as -0.5) gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) \
            and not _NUMBER.match(value):
        return "'" + value
    return value


def log_line(text: Any) -> str:
    """A log message on one line: control characters escaped (\\n, \\x1b, \\u202e), and a
    leading `::` (a GitHub Actions workflow command) defused."""
    out = []
    for char in str(text):
        if char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append(" ")
        elif is_control(char):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    line = "".join(out)
    return " " + line if line.startswith("::") else line
