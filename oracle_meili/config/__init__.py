"""Configuration: one YAML file, filled in by the environment and ``.env``, parsed once into
frozen, typed records (``records``) by ``loading``. Every error names the index and the key
at fault."""

from oracle_meili.config.loading import (
    demo_environment,
    environment,
    leaving_servers,
    load_config,
    parse_config,
    parse_index,
    shard_keys,
)
from oracle_meili.config.meilisearch import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_MEILI_URL,
    MeilisearchConfig,
    MeilisearchSettings,
    ShardSettings,
    shard_key_variable,
)
from oracle_meili.config.oracle import DEFAULT_ORACLE_PORT, OracleSettings
from oracle_meili.config.orchestration import (
    ChangeSensorConfig,
    FollowConfig,
    FreshnessConfig,
    Orchestration,
    ScheduleConfig,
)
from oracle_meili.config.records import (
    CONFIG_ENV_VAR,
    AppConfig,
    BadRowPolicy,
    BinaryPolicy,
    FullStrategy,
    IndexConfig,
    SoftDelete,
    SourceConfig,
    SyncMode,
)
from oracle_meili.config.search_checks import SearchCheck, search_check_names

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "DEFAULT_MEILI_URL",
    "DEFAULT_ORACLE_PORT",
    "AppConfig",
    "BadRowPolicy",
    "BinaryPolicy",
    "ChangeSensorConfig",
    "FollowConfig",
    "FreshnessConfig",
    "FullStrategy",
    "IndexConfig",
    "MeilisearchConfig",
    "MeilisearchSettings",
    "OracleSettings",
    "Orchestration",
    "ScheduleConfig",
    "SearchCheck",
    "ShardSettings",
    "SoftDelete",
    "SourceConfig",
    "SyncMode",
    "demo_environment",
    "environment",
    "leaving_servers",
    "load_config",
    "parse_config",
    "parse_index",
    "search_check_names",
    "shard_key_variable",
    "shard_keys",
]
