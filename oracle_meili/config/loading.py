"""Loading the configuration: one YAML file, filled in by the environment and ``.env``.

Parsed once into the frozen records of :mod:`oracle_meili.config.records`; every error
names the index and the key at fault. See docs/configuration.md for the file's shape.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values
from pydantic import ValidationError

from oracle_meili.config.describe import describe as _describe
from oracle_meili.config.describe import describe_origin
from oracle_meili.config.meilisearch import (
    MeilisearchConfig,
    ShardSettings,
    shard_key_variable,
)
from oracle_meili.config.orchestration import ORCHESTRATION_KEYS, Orchestration
from oracle_meili.config.records import (
    CONFIG_ENV_VAR,
    AppConfig,
    IndexConfig,
)
from oracle_meili.config.source import parse_source as _parse_source
from oracle_meili.errors import ConfigError

log = logging.getLogger(__name__)

# libyaml's loader when PyYAML has it: ten times the pure-Python one on a large file.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_config(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> AppConfig:
    """Load and validate the configuration.

    Args:
        path: the YAML file; defaults to ``$ORACLE_MEILI_CONFIG``.
        environ: the environment to read; defaults to ``os.environ`` over ``./.env``
            (variables already set win over the file).

    Raises:
        ConfigError: naming the index and key of the first problem found.
    """
    env = environment() if environ is None else dict(environ)
    if path is None:
        path = env.get(CONFIG_ENV_VAR)
        if not path:
            raise ConfigError(f"no configuration file: pass --config or set {CONFIG_ENV_VAR}")
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except OSError as e:
        raise ConfigError(f"cannot read configuration file {str(path)!r}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"configuration file {str(path)!r} is not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"configuration file {str(path)!r} must be a mapping")
    return parse_config(raw, environ=env)


def parse_config(raw: Mapping[str, Any], *, environ: Mapping[str, str]) -> AppConfig:
    """Validate an already-parsed configuration mapping, filling gaps from ``environ``."""
    unknown = set(raw) - {"source", "meilisearch", "indexes"}
    if unknown:
        raise ConfigError(f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    entries = _parse_indexes(raw.get("indexes"))
    source = _parse_source(raw.get("source") or {}, environ)
    meilisearch = _parse_meilisearch(raw.get("meilisearch") or {}, environ)
    return AppConfig(
        source=source,
        meilisearch=meilisearch,
        indexes=tuple(index for index, _ in entries),
        orchestration={index.name: orchestration for index, orchestration in entries},
    )


# What `./dev demo` writes while it runs (its Meilisearch, key, Dagster home and
# configuration), so that a second terminal in the project folder reaches the demo as is.
DEMO_ENV_FILE = Path(".state") / "demo.env"


def environment() -> dict[str, str]:
    """``os.environ`` over ``./.env`` (the first one that sets a variable wins)."""
    files = {k: v for k, v in dotenv_values(Path(".env")).items() if v is not None}
    return {**files, **os.environ}


def demo_environment() -> dict[str, str]:
    """What ``./.state/demo.env`` sets: written by ``./dev demo`` while it runs, so that the
    command line in a second terminal reaches the demo's servers. Only the CLI reads it."""
    return {k: v for k, v in dotenv_values(DEMO_ENV_FILE).items() if v is not None}


def parse_index(item: Mapping[str, Any], *, label: str) -> tuple[IndexConfig, Orchestration]:
    """One entry of ``indexes:``: the engine's settings and the Dagster layer's.

    Raises:
        ConfigError: starting with ``label`` (the index), naming the key at fault.
    """
    engine = {k: v for k, v in item.items() if k not in ORCHESTRATION_KEYS}
    dagster = {k: v for k, v in item.items() if k in ORCHESTRATION_KEYS}
    try:
        index = IndexConfig.model_validate(engine)
        orchestration = Orchestration.model_validate(dagster)
    except ValidationError as e:
        raise ConfigError(f"{label}: {_describe(e)}") from None
    if orchestration.follow is not None and index.cursor is None:
        raise ConfigError(f"{label}: follow needs `cursor` (the column the probe reads)")
    if index.read_path == "columnar":
        log.warning(
            "%s: read_path: columnar is read as rows (the only read path); "
            "remove the key to silence this",
            label,
        )
    return index, orchestration


def _parse_indexes(raw: Any) -> list[tuple[IndexConfig, Orchestration]]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("indexes: give a list with at least one index")
    parsed: list[tuple[IndexConfig, Orchestration]] = []
    for position, item in enumerate(raw):
        label = f"indexes[{position}]"
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            label = f"index {item['name']!r}"
        if not isinstance(item, dict):
            raise ConfigError(f"{label}: must be a mapping")
        parsed.append(parse_index(item, label=label))
    names = [index.name for index, _ in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"indexes: name(s) used twice: {', '.join(duplicates)}")
    return parsed


def _parse_meilisearch(raw: Any, env: Mapping[str, str]) -> MeilisearchConfig:
    if not isinstance(raw, dict):
        raise ConfigError("meilisearch: must be a mapping")
    secrets = sorted(set(raw) & set(MeilisearchConfig.secrets()))
    if secrets:
        variable = MeilisearchConfig.variables()[secrets[0]]
        raise ConfigError(f"meilisearch.{secrets[0]}: keep secrets out of the file; set {variable}")
    if "shards" in raw and not raw["shards"]:
        raise ConfigError(
            "meilisearch.shards: empty; list two or more servers, or leave `shards` out and "
            "give one server's `url`"
        )
    if raw.get("shards") and "url" in raw:
        raise ConfigError(
            "meilisearch: `url` and `shards` both given; with shards each server's url is in "
            "its entry of `shards`: leave `url` out"
        )
    shards = raw.get("shards") or []
    for shard in shards:
        if isinstance(shard, dict) and "api_key" in shard:
            raise ConfigError(
                f"meilisearch.shards: keep secrets out of the file; set "
                f"{shard_key_variable(str(shard.get('name')))}"
            )
    names = [str(shard.get("name")) for shard in shards if isinstance(shard, dict)]
    try:
        return MeilisearchConfig.from_environment(env, {**raw, **shard_keys(names, env)})
    except ValidationError as e:
        in_file = {key: key for key in raw}
        message = describe_origin("meilisearch", e, in_file, MeilisearchConfig.variables())
        raise ConfigError(message) from None


def shard_keys(names: Sequence[str], env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The shards' keys in the environment, as the ``shard_api_keys`` and
    ``shard_search_keys`` of :class:`MeilisearchConfig`."""

    def keys(kind: str) -> dict[str, str]:
        return {n: env[v] for n in names if env.get(v := shard_key_variable(n, kind))}

    return {"shard_api_keys": keys("API"), "shard_search_keys": keys("SEARCH")}


def leaving_servers(
    meilisearch: MeilisearchConfig, servers: Mapping[str, str], env: Mapping[str, str]
) -> dict[str, MeilisearchConfig]:
    """Servers no longer in ``meilisearch.shards`` (``{name: url}``), each with its key from
    ``MEILI_API_KEY_<NAME>`` (else ``MEILI_API_KEY``'s): what ``reshard`` moves documents off.

    Raises:
        ConfigError: a name or URL is not one a shard could have.
    """
    leaving = {}
    for name, url in servers.items():
        try:
            leaving[name] = meilisearch.leaving_config(
                ShardSettings(name=name, url=url), env.get(shard_key_variable(name))
            )
        except ValidationError as e:
            raise ConfigError(f"server leaving the shards: {_describe(e)}") from None
    return leaving
