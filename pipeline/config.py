"""Settings: where data lives and where each upstream is, from config file and environment.

Precedence (highest first): environment variable, `adoption.toml` (or the file named by
`ADOPTION_CONFIG`), built-in default. Secrets (API tokens) are never read from the config
file: only from the environment, at the moment they are needed (see `secret`).

Every value is checked when it is read: a malformed file, a value of the wrong type or an
environment variable that does not parse raises `ConfigError` with one line naming the setting
and what to do (exit status 2). Unknown sections and keys are reported as warnings, once.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
PUBLISHED_DIR = PROJECT_ROOT / "published"
log = logging.getLogger("pipeline.config")

#: the keys `adoption.toml` may hold outside [sources.*], with their kinds
FILE_KEYS: dict[str, dict[str, type]] = {
    "paths": {"data_dir": str, "db": str, "charts_dir": str, "results_dir": str, "raw_dir": str},
    "http": {"timeout": float, "retries": int, "backoff": float, "retry_after_max": float,
             "max_bytes": int, "max_response_bytes": int, "deadline": float,
             "source_deadline": float},
}
#: the [http] bounds every source may override in [sources.<name>] (or ADOPTION_<SOURCE>_<KEY>)
HTTP_SOURCE_OPTIONS: dict[str, type] = {"max_bytes": int, "max_response_bytes": int,
                                        "deadline": float, "source_deadline": float}
#: their defaults: 4 GiB received per source and collection (after decompression), 256 MiB
#: per response held in memory, 30 minutes per request, 3 hours per source
HTTP_BOUNDS = {"max_bytes": 4 << 30, "max_response_bytes": 256 << 20, "deadline": 1800.0,
               "source_deadline": 10800.0}
#: env variable -> (section, key) of the same setting in the file
ENV_KEYS = {
    "ADOPTION_DATA_DIR": ("paths", "data_dir"), "ADOPTION_DB": ("paths", "db"),
    "ADOPTION_CHARTS_DIR": ("paths", "charts_dir"),
    "ADOPTION_RESULTS_DIR": ("paths", "results_dir"), "ADOPTION_RAW_DIR": ("paths", "raw_dir"),
    "ADOPTION_HTTP_TIMEOUT": ("http", "timeout"), "ADOPTION_HTTP_RETRIES": ("http", "retries"),
    "ADOPTION_HTTP_BACKOFF": ("http", "backoff"),
    "ADOPTION_HTTP_RETRY_AFTER_MAX": ("http", "retry_after_max"),
    "ADOPTION_HTTP_MAX_BYTES": ("http", "max_bytes"),
    "ADOPTION_HTTP_MAX_RESPONSE_BYTES": ("http", "max_response_bytes"),
    "ADOPTION_HTTP_DEADLINE": ("http", "deadline"),
    "ADOPTION_HTTP_SOURCE_DEADLINE": ("http", "source_deadline"),
}
KIND_WORDS = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}
_warned: set[str] = set()


def config_path() -> Path:
    return Path(os.environ.get("ADOPTION_CONFIG", PROJECT_ROOT / "adoption.toml"))


def _load_config_file() -> dict:
    path = config_path()
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix the file, or point "
                          "ADOPTION_CONFIG at another one") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror or exc}); fix its permissions, "
                          "or point ADOPTION_CONFIG at another file") from None


def env_name(source: str, key: str = "url") -> str:
    """Environment variable that overrides `key` of `source`, e.g. ADOPTION_CONFERENCES_URL."""
    return f"ADOPTION_{source.upper()}_{key.upper()}"


def warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("warning: %s", message)


def convert(value: Any, kind: type, where: str, from_env: bool) -> Any:
    """`value` as `kind`, or ConfigError naming `where` (an env variable or `[section] key`)."""
    if from_env:
        text = str(value).strip()
        try:
            if kind is bool:
                if text.lower() in ("1", "true", "yes", "on"):
                    return True
                if text.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(text)
            return kind(text)
        except ValueError:
            raise ConfigError(f"{where}={text!r} is not {KIND_WORDS[kind]}; set it to "
                              f"{KIND_WORDS[kind]} or unset it") from None
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(f"{where} = {value!r} in {config_path()} is not {KIND_WORDS[kind]}; "
                          "fix the value in the file")
    return value


def _check_range(name: str, value: float, minimum: float, strict: bool = False) -> float:
    if value < minimum or (strict and value == minimum):
        bound = f"greater than {minimum:g}" if strict else f"at least {minimum:g}"
        raise ConfigError(f"{name} is {value:g}; it must be {bound}")
    return value


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
    #: [http] bounds (see HTTP_BOUNDS); a source's own [sources.<name>] values win: http_bound
    http_bounds: dict = field(default_factory=lambda: dict(HTTP_BOUNDS))

    @classmethod
    def from_env(cls) -> Settings:
        cfg = _load_config_file()
        for section, value in cfg.items():
            if section == "sources":
                if not isinstance(value, dict):
                    raise ConfigError(f"[sources] in {config_path()} must be a table of "
                                      "[sources.<name>] sections")
            elif section not in FILE_KEYS:
                warn_once(f"{config_path()}: unknown section [{section}] is ignored "
                          f"(known: {', '.join([*FILE_KEYS, 'sources'])})")
            elif not isinstance(value, dict):
                raise ConfigError(f"[{section}] in {config_path()} must be a table")
            else:
                for key in value:
                    if key not in FILE_KEYS[section]:
                        warn_once(f"{config_path()}: unknown key '{key}' in [{section}] is "
                                  f"ignored (known: {', '.join(FILE_KEYS[section])})")
        values: dict[str, Any] = {}
        for env, (section, key) in ENV_KEYS.items():
            kind = FILE_KEYS[section][key]
            in_file = cfg.get(section, {}).get(key) if isinstance(cfg.get(section), dict) \
                else None
            if in_file is not None:  # checked even when an environment variable overrides it
                values[key] = convert(in_file, kind, f"[{section}] {key}", False)
                _check_range(f"[{section}] {key}", values[key], 0, strict=key == "timeout")
            if os.environ.get(env, "").strip():
                values[key] = convert(os.environ[env], kind, env, from_env=True)
        data_dir = Path(values.get("data_dir", PROJECT_ROOT / "data"))
        return cls(
            data_dir=data_dir,
            db_path=Path(values.get("db", data_dir / "adoption.duckdb")),
            charts_dir=Path(values.get("charts_dir", data_dir / "charts")),
            results_dir=Path(values.get("results_dir", data_dir / "results")),
            raw_dir=Path(values.get("raw_dir", data_dir / "raw")),
            http_timeout=_check_range("the HTTP timeout (ADOPTION_HTTP_TIMEOUT / [http] "
                                      "timeout)", values.get("timeout", 30.0), 0, strict=True),
            http_retries=int(_check_range("ADOPTION_HTTP_RETRIES / [http] retries",
                                          values.get("retries", 4), 0)),
            http_backoff=_check_range("ADOPTION_HTTP_BACKOFF / [http] backoff",
                                      values.get("backoff", 1.0), 0),
            retry_after_max=_check_range("ADOPTION_HTTP_RETRY_AFTER_MAX / [http] "
                                         "retry_after_max", values.get("retry_after_max", 120.0),
                                         0),
            file_config=cfg,
            http_bounds={key: _check_range(f"ADOPTION_HTTP_{key.upper()} / [http] {key}",
                                           values.get(key, default), 0, strict=True)
                         for key, default in HTTP_BOUNDS.items()},
        )

    @cached_property
    def notebooks_out_dir(self) -> Path:
        return self.data_dir / "notebooks"

    @cached_property
    def site_dir(self) -> Path:
        return self.data_dir / "site"

    def _source_section(self, source: str) -> dict:
        section = self.file_config.get("sources", {}).get(source, {})
        if not isinstance(section, dict):
            raise ConfigError(f"[sources.{source}] in {config_path()} must be a table")
        return section

    def source_option(self, source: str, key: str, default: Any = None, kind: type = str) -> Any:
        """A per-source option: env ADOPTION_<SOURCE>_<KEY>, then [sources.<source>] in the
        file, then `default`; converted to `kind` (a bad value raises ConfigError)."""
        env = env_name(source, key)
        if os.environ.get(env, "").strip():
            return convert(os.environ[env], kind, env, from_env=True)
        value = self._source_section(source).get(key)
        if value is None:
            return default
        return convert(value, kind, f"[sources.{source}] {key}", from_env=False)

    def http_bound(self, source: str, key: str) -> float:
        """One of the HTTP bounds (`max_bytes`, `max_response_bytes`, `deadline`,
        `source_deadline`) for `source`: its own setting, else the [http] one."""
        kind = HTTP_SOURCE_OPTIONS[key]
        value = self.source_option(source, key, None, kind)
        if value is None:
            return self.http_bounds[key]
        return _check_range(f"{env_name(source, key)} / [sources.{source}] {key}", value, 0,
                            strict=True)

    def source_url(self, source: str, default: str) -> str:
        return self.source_option(source, "url", default) or default

    def check_sources(self, options: dict[str, dict[str, type]]) -> None:
        """Validate every [sources.*] section and ADOPTION_<SOURCE>_<KEY> variable against the
        options each source declares: unknown sources and keys are warned about, values of the
        wrong kind refused (before anything runs)."""
        for source, keys in options.items():
            for key, kind in keys.items():
                env = env_name(source, key)
                if os.environ.get(env, "").strip():
                    convert(os.environ[env], kind, env, from_env=True)
        for source in self.file_config.get("sources", {}):
            if source not in options:
                warn_once(f"{config_path()}: unknown source [sources.{source}] is ignored "
                          f"(known: {', '.join(sorted(options))})")
                continue
            for key, value in self._source_section(source).items():
                if key not in options[source]:
                    warn_once(f"{config_path()}: unknown key '{key}' in [sources.{source}] is "
                              f"ignored (known: {', '.join(options[source])})")
                else:  # checked even when an environment variable overrides it
                    convert(value, options[source][key], f"[sources.{source}] {key}", False)


def secret(name: str) -> str | None:
    """A token from the environment only; never logged, stored or put in a config file."""
    value = os.environ.get(name, "").strip()
    return value or None
