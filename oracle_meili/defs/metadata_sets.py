"""The metadata oracle-meili records, as typed sets in its own namespace ``oracle_meili``.

Dagster's standard keys (row count, column schema and lineage, table name, URI) go through
Dagster's own ``TableMetadataSet`` and ``UriMetadataSet``, re-exported here.
"""

from __future__ import annotations

import dagster as dg

from oracle_meili.defs.dagster_private import (
    NamespacedMetadataSet,
    TableMetadataSet,
    UriMetadataSet,
)

__all__ = [
    "CheckpointMetadata",
    "IndexDescription",
    "OracleMeiliMetadata",
    "ReconcileMetadata",
    "SourceObservation",
    "SyncMetadata",
    "TableMetadataSet",
    "UriMetadataSet",
]


class OracleMeiliMetadata(NamespacedMetadataSet):
    """Metadata keys ``oracle_meili/<field>``."""

    @classmethod
    def namespace(cls) -> str:
        return "oracle_meili"

    @classmethod
    def key(cls, field: str) -> str:
        """The metadata key of ``field`` (``oracle_meili/<field>``)."""
        if field not in cls.model_fields:
            raise KeyError(f"{cls.__name__} has no field {field!r}")
        return f"{cls.namespace()}/{field}"


class SyncMetadata(OracleMeiliMetadata):
    """What one sync did, on the index asset's materialization. (Keys of at most 34
    characters, namespace included: the UI's metadata table overlaps a longer one with its
    value.)"""

    # The typed text the next sync reads (see engine/watermark.py).
    watermark: str | None = None
    previous_watermark: str | None = None
    # The watermark as a time, for date/time cursors (naive values taken as UTC).
    watermark_time: dg.TimestampMetadataValue | None = None
    mode: str | None = None
    strategy: str | None = None
    rows_read: int | None = None
    rows_reread: int | None = None
    documents_upserted: int | None = None
    documents_deleted: int | None = None
    duration_seconds: float | None = None
    index_document_count: int | None = None
    # One line of text ("12, 13, 14"): the UI shows a JSON list a line per item.
    meilisearch_task_uids: str | None = None
    meilisearch_url: dg.UrlMetadataValue | None = None
    # How far the index was behind its source when the sync ended (date/time cursors).
    behind_seconds: float | None = None
    # How long ago the newest change the index holds was made (date/time cursors).
    change_age_seconds: float | None = None
    # Until when a row may still commit at or below the watermark: the change rule runs one
    # more sync once it has passed (engine/freshness.py); NO_LATE_COMMITS when none can.
    late_commits_until: dg.TimestampMetadataValue | dg.TextMetadataValue | None = None
    rows_skipped: int | None = None
    skipped_rows: dg.JsonMetadataValue | None = None


# The late-commits deadline of a sync after which no late commit can come (it read them all,
# or the index has no look-back window).
NO_LATE_COMMITS = "none pending"


class IndexDescription(OracleMeiliMetadata):
    """On the index asset's definition: where its documents come from."""

    source: str | None = None


class CheckpointMetadata(OracleMeiliMetadata):
    """A full sync's checkpoint, observed on the index asset: two readable figures and the
    JSON a retried run resumes from."""

    checkpoint_rows: int | None = None
    checkpoint_build: str | None = None
    full_sync_checkpoint: dg.JsonMetadataValue | None = None
    full_sync_plan: dg.JsonMetadataValue | None = None


class SourceObservation(OracleMeiliMetadata):
    """The newest change of a source table: the exact cursor value, and as a time."""

    max_cursor: str | None = None
    newest_change: dg.TimestampMetadataValue | None = None


class ReconcileMetadata(OracleMeiliMetadata):
    """What a reconcile run removed, observed on the index asset."""

    documents_checked: int | None = None
    orphans_deleted: int | None = None
    orphan_sample: dg.JsonMetadataValue | None = None


class SettingsAppliedMetadata(OracleMeiliMetadata):
    """What an apply_settings run changed, observed on the index asset."""

    settings_applied: str | None = None
    settings_applied_how: str | None = None
    settings_documents: int | None = None


class ReshardMetadata(OracleMeiliMetadata):
    """What a reshard run moved, and where the documents are now, observed on the index."""

    documents_moved: int | None = None
    documents_per_shard: dg.JsonMetadataValue | None = None
