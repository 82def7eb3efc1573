"""The Meilisearch side of the configuration: one server, or several shards of one index.

API keys never come from the file: ``MEILI_API_KEY``, and per shard ``MEILI_API_KEY_<NAME>``
and ``MEILI_SEARCH_KEY_<NAME>`` (see :func:`shard_key_variable`).
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from oracle_meili.config.base import Record
from oracle_meili.config.environment import EnvironmentRecord

DEFAULT_MEILI_URL = "http://127.0.0.1:7700"
# Meilisearch's default payload limit is 100 MB, counted after decompression. A payload is
# built in memory before it is sent, so this bounds the sync's memory too (one reused buffer:
# 149 MB peak RSS at a million rows). A full sync starts with a smaller payload so that
# Meilisearch starts indexing early; later ones queue up and are auto-batched
# (engine.full.FIRST_PAYLOAD_BYTES, measured in bench/full_sync.py).
DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024


class ShardSettings(Record):
    """One Meilisearch server of a sharded deployment (its API key comes from
    ``MEILI_API_KEY_<NAME>``)."""

    name: str = Field(description="The node's name: A-Z a-z 0-9 _ -, up to 64.")
    url: str = Field(description="Base URL, http:// or https://.")

    # A validator, not Field(pattern=...): the Dagster Component's schema takes no
    # constraints on nested models.
    @model_validator(mode="after")
    def _valid(self) -> ShardSettings:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", self.name):
            raise ValueError(f"name: A-Z a-z 0-9 _ - only, up to 64 (got {self.name!r})")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url: must start with http:// or https:// (got {self.url!r})")
        return self


class MeilisearchSettings(EnvironmentRecord):
    """Where Meilisearch is and how patiently to wait for it (all but the API keys). Each
    setting the file leaves out comes from its ``MEILI_*`` variable (``MEILI_URL``, ...)."""

    model_config = SettingsConfigDict(env_prefix="MEILI_")
    # Shards are listed in the file, not given by a variable.
    not_from_environment: ClassVar[frozenset[str]] = frozenset({"shards"})

    url: str = Field(default=DEFAULT_MEILI_URL, description="Base URL, http:// or https://.")
    shards: tuple[ShardSettings, ...] = Field(
        default=(),
        description="Several servers: each document goes to one of them, by a hash of its "
        "id, and a search reaches all of them (Meilisearch's network). `url` is not used then.",
    )
    timeout_seconds: float = Field(default=30.0, gt=0, description="HTTP request timeout.")
    task_timeout_seconds: float = Field(
        default=3600.0, gt=0, description="Longest wait for one Meilisearch task."
    )
    max_payload_bytes: int = Field(
        default=DEFAULT_MAX_PAYLOAD_BYTES, ge=1024, description="Largest NDJSON payload per task."
    )
    max_tasks_in_flight: int = Field(
        default=4, ge=1, description="Tasks enqueued before waiting for the first."
    )
    retries: int = Field(default=3, ge=0, description="Retries of a transient failure (0: none).")

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https:// ({url!r})")
        return url


class MeilisearchConfig(MeilisearchSettings):
    """The Meilisearch settings with the API keys."""

    api_key: SecretStr | None = Field(
        default=None, description="API key (MEILI_API_KEY; never in the file)."
    )
    # Per shard: the key the tool writes with, and the key the nodes search each other with.
    shard_api_keys: dict[str, SecretStr] = Field(default_factory=dict)
    shard_search_keys: dict[str, SecretStr] = Field(default_factory=dict)
    # Their variables are named after each shard (config.loading.shard_keys).
    not_from_environment = MeilisearchSettings.not_from_environment | {
        "shard_api_keys",
        "shard_search_keys",
    }

    @model_validator(mode="after")
    def _distinct_shards(self) -> MeilisearchConfig:
        names = [shard.name for shard in self.shards]
        if len(set(names)) != len(names):
            raise ValueError(f"shards: names must differ ({', '.join(names)})")
        if len(names) == 1:
            raise ValueError("shards: list two or more servers, or use `url` for one")
        return self

    def shard_config(self, shard: ShardSettings) -> MeilisearchConfig:
        """The settings of one shard as a server of its own."""
        return self.model_copy(
            update={
                "url": shard.url,
                "api_key": self.shard_api_keys.get(shard.name, self.api_key),
                "shards": (),
                "shard_api_keys": {},
                "shard_search_keys": {},
            }
        )

    def leaving_config(self, server: ShardSettings, api_key: str | None) -> MeilisearchConfig:
        """The settings of a server removed from the shards (``api_key``: its own, else
        ``MEILI_API_KEY``'s)."""
        config = self.shard_config(server)
        if api_key is None:
            return config
        return config.model_copy(update={"api_key": SecretStr(api_key)})

    def search_key(self, shard: ShardSettings) -> str | None:
        """The key the other nodes search ``shard`` with (its own API key by default)."""
        key = self.shard_search_keys.get(shard.name) or self.shard_api_keys.get(shard.name)
        key = key or self.api_key
        return key.get_secret_value() if key is not None else None


def shard_key_variable(name: str, kind: str = "API") -> str:
    """``MEILI_API_KEY_<NAME>`` (or ``MEILI_SEARCH_KEY_<NAME>``): a shard's key in the
    environment."""
    return f"MEILI_{kind}_KEY_{name.upper().replace('-', '_')}"
