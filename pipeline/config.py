"""Settings: where data lives and where each upstream is, from config file and environment.

Precedence (highest first): environment variable, `adoption.toml` (or the file named by
`ADOPTION_CONFIG`), built-in default. Secrets (API tokens) are never read from the config
file: only from the environment, at the moment they are needed (see `secret`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"


def _load_config_file() -> dict:
    path = Path(os.environ.get("ADOPTION_CONFIG", PROJECT_ROOT / "adoption.toml"))
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def env_name(source: str, key: str = "url") -> str:
    """Environment variable that overrides `key` of `source`, e.g. ADOPTION_CONFERENCES_URL."""
    return f"ADOPTION_{source.upper()}_{key.upper()}"


@dataclass(frozen=True)
class Settings:
    """Resolved paths and per-source options for one run."""

    data_dir: Path
    db_path: Path
    charts_dir: Path
    results_dir: Path
    raw_dir: Path
    http_timeout: float
    http_retries: int
    http_backoff: float
    retry_after_max: float
    file_config: dict

    @classmethod
    def from_env(cls) -> Settings:
        cfg = _load_config_file()
        paths = cfg.get("paths", {})
        http = cfg.get("http", {})

        def pick(env: str, section: dict, key: str, default):
            return os.environ.get(env) or section.get(key) or default

        data_dir = Path(pick("ADOPTION_DATA_DIR", paths, "data_dir", PROJECT_ROOT / "data"))
        return cls(
            data_dir=data_dir,
            db_path=Path(pick("ADOPTION_DB", paths, "db", data_dir / "adoption.duckdb")),
            charts_dir=Path(pick("ADOPTION_CHARTS_DIR", paths, "charts_dir", data_dir / "charts")),
            results_dir=Path(
                pick("ADOPTION_RESULTS_DIR", paths, "results_dir", data_dir / "results")
            ),
            raw_dir=Path(pick("ADOPTION_RAW_DIR", paths, "raw_dir", data_dir / "raw")),
            http_timeout=float(pick("ADOPTION_HTTP_TIMEOUT", http, "timeout", 30)),
            http_retries=int(pick("ADOPTION_HTTP_RETRIES", http, "retries", 4)),
            http_backoff=float(pick("ADOPTION_HTTP_BACKOFF", http, "backoff", 1.0)),
            retry_after_max=float(
                pick("ADOPTION_HTTP_RETRY_AFTER_MAX", http, "retry_after_max", 120)
            ),
            file_config=cfg,
        )

    @cached_property
    def notebooks_out_dir(self) -> Path:
        return self.data_dir / "notebooks"

    def source_option(self, source: str, key: str, default: str | None = None) -> str | None:
        """A per-source option: env ADOPTION_<SOURCE>_<KEY>, then [sources.<source>] in the file."""
        value = os.environ.get(env_name(source, key))
        if value:
            return value
        section = self.file_config.get("sources", {}).get(source, {})
        return section.get(key, default)

    def source_url(self, source: str, default: str) -> str:
        return self.source_option(source, "url", default) or default


def secret(name: str) -> str | None:
    """A token from the environment only; never logged, stored or put in a config file."""
    value = os.environ.get(name, "").strip()
    return value or None
