"""The one "run a sync" harness of the tests: a source engine, the test Meilisearch server,
and the engine calls the tests repeat (public client methods only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig
from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.consistency import ConsistencyReport, check_consistency
from oracle_meili.engine.full import full_sync
from oracle_meili.engine.incremental import incremental_sync
from oracle_meili.engine.reconcile import ReconcileResult, reconcile
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.state import StateFile


class RecordedState(StateFile):
    """A state file that also lists every checkpoint saved, and calls ``on_checkpoint``
    with each (a test's fault injection)."""

    def __init__(
        self, path: Path, on_checkpoint: Callable[[FullSyncCheckpoint], None] | None = None
    ) -> None:
        super().__init__(path)
        self.checkpoints: list[FullSyncCheckpoint] = []
        self.on_checkpoint = on_checkpoint

    def save_checkpoint(self, checkpoint: FullSyncCheckpoint) -> None:
        super().save_checkpoint(checkpoint)
        self.checkpoints.append(checkpoint)
        if self.on_checkpoint is not None:
            self.on_checkpoint(checkpoint)


@dataclass
class SyncHarness:
    """A source and the test server, with the calls the tests repeat."""

    engine: sa.Engine
    client: MeiliClient

    def with_settings(self, **changes: Any) -> SyncHarness:
        """The same source, through a client whose Meilisearch settings differ (smaller
        payloads, say)."""
        return SyncHarness(self.engine, self.client_with(**changes))

    def client_with(self, **changes: Any) -> MeiliClient:
        return MeiliClient(self.client.config.model_copy(update=changes))

    def source(self, index: IndexConfig) -> TableSource:
        return TableSource(self.engine, index)

    def full(
        self, index: IndexConfig, *, source: TableSource | None = None, **options: Any
    ) -> SyncResult:
        return full_sync(source or self.source(index), self.client, **options)

    def incremental(
        self, index: IndexConfig, watermark: str | None, *, source: TableSource | None = None
    ) -> SyncResult:
        return incremental_sync(source or self.source(index), self.client, watermark=watermark)

    def reconcile(self, index: IndexConfig, **options: Any) -> ReconcileResult:
        return reconcile(self.source(index), self.client, **options)

    def check(self, index: IndexConfig, **options: Any) -> ConsistencyReport:
        return check_consistency(self.source(index), self.client, **options)

    def live_count(self, table: str = "PRODUCTS") -> int:
        """Live rows of a demo-shaped table (IS_DELETED = 'N')."""
        return int(self.scalar(f"SELECT COUNT(*) FROM {table} WHERE IS_DELETED = 'N'"))

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as c:
            return c.execute(sa.text(sql), params).scalar_one()

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as c:
            c.execute(sa.text(sql), params)

    def doc(self, index: str, doc_id: int | str) -> dict[str, Any]:
        return self.client.document(index, doc_id)
