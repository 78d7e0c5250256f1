"""Fake GitHub on 127.0.0.1 serving a repository's tarball at a commit, like the archive of the
Hub's model listing (saranscript/huggingface-models) the `hf_archive` source reads.

Shape copied from GitHub: `GET /<owner>/<repo>/archive/<commit>.tar.gz` answers 302 with a
`Location` on codeload (here the path `/codeload/<owner>/<repo>/tar.gz/<commit>` of the same
server), which answers the gzip'd tar: a pax global header whose comment is the commit id, then
every file under one folder `<repo>-<commit>/` (the model cards `models/<id>/README.md` beside
each `models/<id>/infos.json`, and the repository's README.md). Any other commit or path: 404.

The listing is generated: `listing(n)` gives n records in the shape of huggingface_hub's
`ModelInfo` of February 2022 (modelId, sha, lastModified, tags, pipeline_tag, siblings, config,
private, downloads, likes, library_name when set), each serialised once as the file's bytes.
`mirror_tarball` packs the same files as the shared mirror does (`git archive` of
models/**/infos.json, gzip -n -9), `content_digest` computes the content rule of the mirror's
SOURCE.md independently of the pipeline (git blob ids with hashlib, sorted lines).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime, timedelta

from tests.fakes.base import NOT_FOUND, FakeServer, Reply, Request

REPO = "saranscript/huggingface-models"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
LISTED_AT = datetime(2022, 2, 15, 14, 15, 54, tzinfo=UTC)  # the newest lastModified


def infos_json(model_id: str, tags: list[str], library: str | None = None,
               downloads: int | None = 0, likes: int = 0, siblings: list[str] | None = None,
               modified: datetime = LISTED_AT, **extra) -> bytes:
    """One models/<id>/infos.json as the Hub listing of 2022 gave it (one JSON line)."""
    record = {"modelId": model_id, "sha": hashlib.sha1(model_id.encode()).hexdigest(),
              "lastModified": modified.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "tags": tags,
              "pipeline_tag": "fill-mask",
              "siblings": [{"rfilename": name} for name in (siblings or [".gitattributes"])],
              "config": {"model_type": "bert"}, "private": False}
    if downloads is not None:
        record["downloads"] = downloads
    if library is not None:
        record["library_name"] = library
    record["likes"] = likes
    record.update(extra)
    return json.dumps(record).encode()


def listing(n: int) -> dict[str, bytes]:
    """n generated models: path -> infos.json bytes, with PyTorch / TensorFlow / both / JAX
    tags, weight files that agree with them, legacy un-namespaced ids and one 'PyTorch'."""
    files = {}
    for i in range(n):
        model_id = f"bert-legacy-{i}" if i % 17 == 0 else f"org{i % 7}/model-{i}"
        kind = i % 10
        tags = {0: ["pytorch", "tf"], 1: ["tf"], 2: ["PyTorch"], 3: ["pytorch", "jax"]}.get(
            kind, ["pytorch"] if kind < 8 else [])
        siblings = [".gitattributes", "config.json"]
        siblings += ["pytorch_model.bin"] * ("pytorch" in [t.lower() for t in tags])
        siblings += ["tf_model.h5"] * ("tf" in tags) + ["flax_model.msgpack"] * ("jax" in tags)
        files[f"models/{model_id}/infos.json"] = infos_json(
            model_id, tags + ["transformers"] * bool(tags),
            library="transformers" if tags else None, downloads=(n - i) * 100,
            siblings=siblings, modified=LISTED_AT - timedelta(hours=i))
    return files


def content_digest(files: dict[str, bytes]) -> str:
    """sha256 of the sorted "<git blob id>  <path>\\n" lines of the listing files."""
    lines = "".join(f"{_git_blob(data)}  {path}\n" for path, data in sorted(files.items())
                    if path.endswith("/infos.json"))
    return hashlib.sha256(lines.encode()).hexdigest()


def _git_blob(data: bytes) -> str:
    header = f"blob {len(data)}".encode() + bytes(1)
    return hashlib.sha1(header + data).hexdigest()  # noqa: S324 (git's object id)


def _tar(files: dict[str, bytes], commit: str, prefix: str = "") -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT,
                      pax_headers={"comment": commit}) as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(prefix + path)
            info.size, info.mode, info.mtime = len(data), 0o644, 1645452513
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def mirror_tarball(files: dict[str, bytes], commit: str = COMMIT) -> bytes:
    """The shared mirror's layout: models/**/infos.json only, gzip without name or time."""
    return gzip.compress(_tar(dict(sorted(files.items())), commit), compresslevel=9, mtime=0)


def github_tarball(files: dict[str, bytes], commit: str = COMMIT, repo: str = REPO) -> bytes:
    """GitHub's tarball of the commit: one leading folder, model cards and README included."""
    everything = {"README.md": b"Scraped all huggingface models\nFor education purpose\n"}
    for path, data in sorted(files.items()):
        everything[path.replace("/infos.json", "/README.md")] = b"---\nlicense: mit\n---\n"
        everything[path] = data
    return gzip.compress(_tar(everything, commit, f"{repo.split('/')[1]}-{commit}/"))


class FakeGitHub(FakeServer):
    """github.com's archive URL of one repository at one commit, and codeload's answer."""

    def __init__(self, files: dict[str, bytes], commit: str = COMMIT, repo: str = REPO,
                 body: bytes | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.commit, self.repo = commit, repo
        self.body = body if body is not None else github_tarball(files, commit, repo)

    def route(self, request: Request) -> Reply:
        if request.path == f"/{self.repo}/archive/{self.commit}.tar.gz":
            return Reply(302, b"", {"Location": f"{self.url}/codeload/{self.repo}/tar.gz/"
                                                f"{self.commit}"}, "text/html")
        if request.path == f"/codeload/{self.repo}/tar.gz/{self.commit}":
            name = f"{self.repo.split('/')[1]}-{self.commit}.tar.gz"
            return Reply(200, self.body, {"Content-Disposition": f"attachment; filename={name}",
                                          "ETag": f'"{hashlib.sha1(self.body).hexdigest()}"'},
                         "application/x-gzip")
        return NOT_FOUND
