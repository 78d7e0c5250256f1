"""The words a PDF's text holds, read in worker processes that a hostile file cannot harm.

Text comes from PDFium (pypdfium2, Apache-2.0/BSD: the library SOURCE.md of the PMLR sample
used); the tracked words are matched by `pipeline.rules.paper_words`. Every PDF is read in a
separate worker process (`python -m pipeline.pdftext`, a JSON line in, a JSON line out) with a
memory limit (RLIMIT_AS) set in the worker and a time limit kept by the parent: a file that
makes PDFium loop, allocate without bound or crash kills only its worker, and comes back as a
failure with its reason ("timed out after 60 s", "memory limit of 1536 MiB exceeded or parser
crashed (signal 6)", "encrypted", "not a PDF", "truncated"). A new worker takes its place.

Before PDFium sees a file, two structural checks that PDFium's repair would paper over: a PDF
starts with `%PDF-` (within its first KiB) and ends with `%%EOF` (within its last 2 KiB), so a
download cut short is "truncated", not a shorter paper.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import resource
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HEAD_BYTES = 1024
TAIL_BYTES = 2048


def extractor_name() -> str:
    """The library and PDFium build that read the text (recorded with every result)."""
    import pypdfium2

    return (f"pypdfium2 {pypdfium2.version.PYPDFIUM_INFO.version} "
            f"(PDFium {pypdfium2.version.PDFIUM_INFO.build})")


class Unreadable(Exception):  # noqa: N818 (a result, not a bug)
    """The file cannot be read as a PDF; the message is the reason recorded."""


def check_structure(path: Path) -> None:
    """Refuse what is not a whole PDF before a parser (which repairs what it can) sees it."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
        fh.seek(max(0, size - TAIL_BYTES))
        tail = fh.read()
    if b"%PDF-" not in head:
        raise Unreadable("not a PDF (no %PDF- header)")
    if b"%%EOF" not in tail:
        raise Unreadable("truncated (no %%EOF at the end of the file)")


def read_text(path: Path) -> tuple[str, int]:
    """The text of every page (PDFium's reading order), and the page count."""
    import pypdfium2 as pdfium

    check_structure(path)
    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        text = str(exc).lower()
        if "password" in text or "security" in text:
            raise Unreadable("encrypted (a password is needed to open it)") from None
        raise Unreadable(f"damaged or not a PDF ({str(exc).strip()[:120]})") from None
    try:
        parts = []
        for index in range(len(doc)):
            page = doc[index]
            textpage = page.get_textpage()
            try:
                parts.append(textpage.get_text_range())
            finally:
                textpage.close()
                page.close()
        return "\n".join(parts), len(doc)
    finally:
        doc.close()


def extract(path: Path) -> dict:
    """Page count, text length and tracked words of one PDF (in this process)."""
    from pipeline.rules import paper_words

    text, pages = read_text(path)
    return {"pages": pages, "chars": len(text), "words": paper_words(text)}


# -- the worker process ---------------------------------------------------------------------

def _worker(memory_mb: int) -> None:
    """Answer one JSON line per request line: {"path": ...} -> result or {"error": reason}."""
    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import pypdfium2  # noqa: F401  (loaded before "ready": the time limit is for reading only)

    from pipeline import rules  # noqa: F401

    sys.stdout.write('{"ready": true}\n')
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"ok": True, **extract(Path(request["path"]))}
        except Unreadable as exc:
            answer = {"ok": False, "reason": str(exc)}
        except MemoryError:
            answer = {"ok": False, "reason": f"memory limit of {memory_mb} MiB exceeded"}
        except Exception as exc:  # a parser error is the file's, not ours: report it
            answer = {"ok": False, "reason": f"parser error: {type(exc).__name__}: "
                                             f"{str(exc).strip()[:160]}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


@dataclass
class Outcome:
    ok: bool
    pages: int | None = None
    chars: int | None = None
    words: dict[str, int] = field(default_factory=dict)
    reason: str | None = None
    seconds: float = 0.0


STARTUP_TIMEOUT = 120.0  # seconds for a worker to start (not counted in a PDF's time limit)


class _Worker:
    def __init__(self, memory_mb: int) -> None:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                    else "")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.pdftext", "--worker", str(memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, text=True, bufsize=1)
        self.ready = False

    def _read(self, timeout: float) -> dict | None:
        assert self.proc.stdout
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                return None
        line = self.proc.stdout.readline()
        try:
            return json.loads(line) if line else None
        except ValueError:
            return None

    def ask(self, path: Path, timeout: float) -> dict | None:
        """The worker's answer, or None when it died or did not answer in time."""
        assert self.proc.stdin and self.proc.stdout
        if not self.ready:
            self.ready = bool((self._read(STARTUP_TIMEOUT) or {}).get("ready"))
            if not self.ready:
                return None
        try:
            self.proc.stdin.write(json.dumps({"path": str(path)}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        self.asked = time.monotonic()
        return self._read(timeout)

    def kill(self) -> int | None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.proc.stdin:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()


class WorkerPool:
    """`workers` extraction processes shared by any number of threads (`extract` blocks until
    one is free). A worker that times out or dies is replaced; its PDF is a failure."""

    def __init__(self, workers: int = 2, timeout: float = 60.0, memory_mb: int = 1536) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        for _ in range(max(1, workers)):
            self._idle.put(None)  # started on first use
        self._all: list[_Worker] = []
        self._lock = threading.Lock()

    def _start(self) -> _Worker:
        worker = _Worker(self.memory_mb)
        with self._lock:
            self._all.append(worker)
        return worker

    def extract(self, path: Path) -> Outcome:
        worker = self._idle.get()
        try:
            if worker is None or worker.proc.poll() is not None:
                worker = self._start()
            worker.asked = time.monotonic()
            answer = worker.ask(path, self.timeout)
            seconds = time.monotonic() - worker.asked
            if answer is None:
                alive = worker.proc.poll() is None
                code = worker.kill()
                worker = None
                if alive and seconds >= self.timeout:
                    return Outcome(False, reason=f"timed out after {self.timeout:g} s",
                                   seconds=seconds)
                signal = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
                return Outcome(False, reason=f"parser crashed or exceeded the memory limit of "
                                             f"{self.memory_mb} MiB ({signal})",
                               seconds=seconds)
            if not answer.get("ok"):
                return Outcome(False, reason=str(answer.get("reason"))[:200], seconds=seconds)
            return Outcome(True, int(answer["pages"]), int(answer["chars"]),
                           {str(k): int(v) for k, v in dict(answer["words"]).items()},
                           seconds=seconds)
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker(int(sys.argv[2]))
    else:
        for name in sys.argv[1:]:  # a quick look at files: python -m pipeline.pdftext a.pdf
            try:
                print(name, json.dumps(extract(Path(name))))
            except Unreadable as exc:
                print(name, "failed:", exc)
