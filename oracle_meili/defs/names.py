"""Every Dagster name and metadata key oracle-meili uses, spelled once.

Asset keys, job, op, schedule, sensor, check and pool names, and the namespaced metadata
keys. Other modules import them from here, so a rename cannot leave one place behind.
"""

from __future__ import annotations

import dagster as dg

from oracle_meili.config import IndexConfig, SyncMode

# Asset keys and groups.
INDEX_KEY_PREFIX = "meilisearch"
SOURCE_KEY_PREFIX = "oracle"
SOURCE_GROUP = "source"


def index_asset_key(index: IndexConfig | str) -> dg.AssetKey:
    """``meilisearch/<index>``."""
    name = index if isinstance(index, str) else index.name
    return dg.AssetKey([INDEX_KEY_PREFIX, name])


def source_table_key(table: str) -> dg.AssetKey:
    """``SHOP.PRODUCTS`` -> ``oracle/shop/products``."""
    return dg.AssetKey([SOURCE_KEY_PREFIX, *table.lower().split(".")])


def pool_name(index: IndexConfig) -> str:
    """The concurrency pool that keeps runs on one index from overlapping."""
    return f"oracle_meili/{index.name}"


def _safe(index: IndexConfig) -> str:
    # Job names allow [A-Za-z0-9_]; index names cannot contain "__", so "-" -> "__" is unique.
    return index.name.replace("-", "__")


def job_name(index: IndexConfig) -> str:
    """``sync_<index>``: what the schedules and the change sensor launch."""
    return f"sync_{_safe(index)}"


def checks_job_name(index: IndexConfig) -> str:
    return f"check_{_safe(index)}"


def checks_schedule_name(index: IndexConfig) -> str:
    return f"check_{_safe(index)}_schedule"


def observe_job_name(index: IndexConfig) -> str:
    return f"observe_{_safe(index)}"


def observe_schedule_name(index: IndexConfig) -> str:
    return f"observe_{_safe(index)}_schedule"


def reconcile_job_name(index: IndexConfig) -> str:
    return f"reconcile_{_safe(index)}"


def reconcile_op_name(index: IndexConfig) -> str:
    return f"reconcile_{_safe(index)}_op"


def reconcile_schedule_name(index: IndexConfig) -> str:
    return f"reconcile_{_safe(index)}_schedule"


def sync_schedule_name(index: IndexConfig, mode: SyncMode) -> str:
    return f"{job_name(index)}_{mode}"


def change_sensor_name(index: IndexConfig) -> str:
    return f"{job_name(index)}_on_change"


def consistency_checks_name(index: IndexConfig) -> str:
    return f"{job_name(index)}_consistency"


# Asset check names.
COUNT_PARITY = "document_count_parity"
CONTENT_PARITY = "content_parity"
NO_ORPHANS = "no_orphans"

# Metadata keys of a sync's materialization.
PREFIX = "oracle_meili"
WATERMARK = f"{PREFIX}/watermark"
PREVIOUS_WATERMARK = f"{PREFIX}/previous_watermark"
MODE = f"{PREFIX}/mode"
STRATEGY = f"{PREFIX}/strategy"
ROWS_READ = f"{PREFIX}/rows_read"
DOCUMENTS_UPSERTED = f"{PREFIX}/documents_upserted"
DOCUMENTS_DELETED = f"{PREFIX}/documents_deleted"
DURATION_SECONDS = f"{PREFIX}/duration_seconds"
INDEX_DOCUMENT_COUNT = f"{PREFIX}/index_document_count"
TASK_UIDS = f"{PREFIX}/meilisearch_task_uids"
MEILISEARCH_URL = f"{PREFIX}/meilisearch_url"
LAG_SECONDS = f"{PREFIX}/lag_seconds"
FULL_SYNC_CHECKPOINT = f"{PREFIX}/full_sync_checkpoint"
ROWS_SKIPPED = f"{PREFIX}/rows_skipped"
SKIPPED_ROWS = f"{PREFIX}/skipped_rows"
SOURCE_LABEL = f"{PREFIX}/source"
ROW_COUNT = "dagster/row_count"
URI = "dagster/uri"
TABLE_NAME = "dagster/table_name"
COLUMN_SCHEMA = "dagster/column_schema"
COLUMN_LINEAGE = "dagster/column_lineage"
WATERMARK_TIME = f"{PREFIX}/watermark_time"
# Observations of a source table (the change sensor, the Observe button, schedule.observe).
MAX_CURSOR = f"{PREFIX}/max_cursor"
NEWEST_CHANGE = f"{PREFIX}/newest_change"
# A full sync's checkpoint observation: the readable part beside the JSON it resumes from.
CHECKPOINT_ROWS = f"{PREFIX}/checkpoint_rows_acknowledged"
CHECKPOINT_BUILD_INDEX = f"{PREFIX}/checkpoint_build_index"
# Observations of an index, by its reconcile job.
DOCUMENTS_CHECKED = f"{PREFIX}/documents_checked"
ORPHANS_DELETED = f"{PREFIX}/orphans_deleted"
ORPHAN_SAMPLE = f"{PREFIX}/orphan_sample"
