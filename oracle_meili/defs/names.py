"""Every Dagster name oracle-meili uses, spelled once: asset keys, job, op, schedule,
sensor, check and pool names (metadata keys are the typed sets of ``metadata_sets``)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg
import sqlalchemy as sa

from oracle_meili.config import IndexConfig, SyncMode, search_check_names
from oracle_meili.errors import ConfigError

# Asset keys and groups.
INDEX_KEY_PREFIX = "meilisearch"
# One group for the tables and the indexes they feed: the UI's global lineage opens a lone
# group expanded (several start collapsed), so a newcomer sees table -> index at once.
DEFAULT_GROUP = "oracle_meili"


def index_asset_key(index: IndexConfig | str) -> dg.AssetKey:
    """``meilisearch/<index>``."""
    name = index if isinstance(index, str) else index.name
    return dg.AssetKey([INDEX_KEY_PREFIX, name])


def source_table_key(table: str, kind: str = "oracle") -> dg.AssetKey:
    """``shop.products`` -> ``oracle/SHOP/PRODUCTS`` (``sqlite/...`` on a SQLite source:
    the key says which database the table is in).

    Upper case, as Oracle's dictionary spells an unquoted name: in the lineage graph, which
    titles a node by its key's last part, the table ``PRODUCTS`` is told apart from the
    index ``products`` it feeds."""
    return dg.AssetKey([kind, *table.upper().split(".")])


def source_kind(source_url: str | None) -> str:
    """The source database's kind: ``oracle``, or a SQLAlchemy URL's backend (``sqlite``,
    ``postgresql``). It prefixes the tables' asset keys and is their kind in the UI."""
    if source_url is None:
        return "oracle"
    return sa.make_url(source_url).get_backend_name()


def pool_name(index: IndexConfig) -> str:
    """The concurrency pool that keeps runs on one index from overlapping."""
    return f"oracle_meili/{index.name}"


def dagster_name_part(index: IndexConfig) -> str:
    """The index's name as part of a Dagster name (schedules, steps)."""
    # Names allow [A-Za-z0-9_]; index names cannot contain "__", so "-" -> "__" is unique.
    return index.name.replace("-", "__")


# The jobs: a fixed few, whatever the number of indexes (a run selects its index).
SYNC_JOB = "sync_indexes"
SLICED_SYNC_JOB = "sync_sliced_indexes"
CHECKS_JOB = "check_indexes"
OBSERVE_JOB = "observe_sources"
RECONCILE_JOB = "reconcile_index"
APPLY_SETTINGS_JOB = "apply_settings"
RESHARD_JOB = "reshard_index"


def index_tag(index: IndexConfig) -> dict[str, str]:
    """The tag of a run that syncs ``index`` (one per index it syncs), ``oracle_meili/index.
    <index>``: the sensors and schedules set it, so that the runs of one index are found
    among the shared job's. (A tag key's part is at most 63 characters: a longer name is
    shortened, with a digest of the whole.)"""
    name = index.name
    if len(name) > 57:
        name = f"{name[:40]}.{hashlib.sha256(name.encode()).hexdigest()[:16]}"
    return {f"oracle_meili/index.{name}": "true"}


def sync_job_name(index: IndexConfig) -> str:
    """The job that syncs ``index``: the sliced indexes' own, or everyone else's."""
    return SLICED_SYNC_JOB if index.parallel > 1 else SYNC_JOB


def sliced_step_name(index: IndexConfig, part: str) -> str:
    """``<index>_plan``, ``<index>_slice``, ``<index>_publish``: the steps of a sliced sync
    (inside the graph of the index asset, so the UI shows them under the index)."""
    return f"{dagster_name_part(index)}_{part}"


def sync_schedule_name(index: IndexConfig, mode: SyncMode) -> str:
    """``sync_<index>_incremental``, ``sync_<index>_full``."""
    return f"sync_{dagster_name_part(index)}_{mode}"


def checks_schedule_name(index: IndexConfig) -> str:
    return f"check_{dagster_name_part(index)}"


def observe_schedule_name(index: IndexConfig) -> str:
    return f"observe_{dagster_name_part(index)}"


def reconcile_schedule_name(index: IndexConfig) -> str:
    return f"reconcile_{dagster_name_part(index)}"


def change_sensor_name(index: IndexConfig) -> str:
    return f"sync_{dagster_name_part(index)}_on_change"


# The one check definition of every index (its op's name), and the checks' names.
CONSISTENCY_CHECKS = "consistency_checks"
# The one definition of every index's search checks (``search_checks:``), and of their
# settings checks.
SEARCH_CHECKS = "search_checks"
SETTINGS_CHECKS = "settings_checks"
SETTINGS_MATCH = "settings_match"
# Evaluated by every sync of an index (not of a sliced one: its steps are a graph).
CAUGHT_UP = "caught_up"
COUNT_PARITY = "document_count_parity"
CONTENT_PARITY = "content_parity"
NO_ORPHANS = "no_orphans"


# Resource keys (scoped like the job names).
SOURCE_RESOURCE = "source"
MEILISEARCH_RESOURCE = "meilisearch"
STEP_IO_MANAGER = "oracle_meili_steps"

_SCOPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")


@dataclass(frozen=True, eq=False)
class Names:
    """The Dagster names of one oracle-meili configuration in a code location.

    Asset keys come from the translator (``index_keys``, ``table_keys``; the defaults above
    for what they leave out). ``scope`` prefixes every other name, of jobs, ops, schedules,
    sensors, checks and resources, with ``<scope>__``, so that several configurations (two
    Components with two sources) fit in one code location; without it the names are the
    documented ones. Pools are not scoped: a pool is the index's, whoever syncs it.
    """

    scope: str = ""
    index_keys: Mapping[str, dg.AssetKey] = field(default_factory=dict)
    table_keys: Mapping[str, dg.AssetKey] = field(default_factory=dict)
    # The source's kind, for the default keys of tables not in ``table_keys``.
    source_kind: str = "oracle"

    def __post_init__(self) -> None:
        if self.scope and not _SCOPE.match(self.scope):
            raise ConfigError(
                f"name {self.scope!r}: a letter, then up to 39 letters, digits or _ "
                "(it prefixes the Dagster names of this configuration's jobs and sensors)"
            )

    def __call__(self, name: str) -> str:
        """``name`` in this scope."""
        return f"{self.scope}__{name}" if self.scope else name

    def index_key(self, index: IndexConfig | str) -> dg.AssetKey:
        name = index if isinstance(index, str) else index.name
        return self.index_keys.get(name) or index_asset_key(name)

    def table_key(self, table: str) -> dg.AssetKey:
        return self.table_keys.get(table) or source_table_key(table, self.source_kind)

    def index_checks(self, index: IndexConfig) -> list[dg.AssetCheckKey]:
        """The checks ``check_indexes`` runs on ``index``: its consistency checks, whether
        its settings are the configured ones, and its search checks."""
        key = self.index_key(index)
        return [
            dg.AssetCheckKey(key, name)
            for name in (
                COUNT_PARITY,
                CONTENT_PARITY,
                NO_ORPHANS,
                SETTINGS_MATCH,
                *search_check_names(index.search_checks),
            )
        ]

    def sync_checks(self, index: IndexConfig) -> list[dg.AssetCheckKey]:
        """The checks a sync of ``index`` evaluates, which every run selecting its asset
        must select too (the asset's own step produces them)."""
        if index.parallel > 1:
            return []
        return [dg.AssetCheckKey(self.index_key(index), CAUGHT_UP)]

    @property
    def source(self) -> str:
        """The source resource's key."""
        return self(SOURCE_RESOURCE)

    @property
    def meilisearch(self) -> str:
        """The Meilisearch resource's key."""
        return self(MEILISEARCH_RESOURCE)

    @property
    def step_io(self) -> str:
        """The IO manager of a sliced sync's steps."""
        return self(STEP_IO_MANAGER)


# The names of a code location with one configuration and the default translator.
DEFAULT_NAMES = Names()
