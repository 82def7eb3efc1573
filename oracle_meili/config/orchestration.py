"""What the Dagster layer does with an index: schedules, change sensor, freshness, owners.

These settings sit beside the engine's in each index's entry of the configuration file, but
the engine never reads them: the loader splits an entry into an
:class:`~oracle_meili.config.records.IndexConfig` and an :class:`Orchestration`.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from oracle_meili.config.base import Record


class ScheduleConfig(Record):
    """Cron expressions for the index's schedules (each optional).

    Validated when the Dagster definitions load; schedules start stopped unless ``running``.
    """

    incremental: str | None = None
    full: str | None = None
    reconcile: str | None = Field(default=None, description="Remove hard-deleted rows.")
    checks: str | None = Field(
        default=None, description="Run the consistency checks (a full pass over both sides)."
    )
    observe: str | None = Field(
        default=None,
        description="Observe the source table: live rows (one COUNT) and newest change.",
    )
    timezone: str | None = Field(default=None, description="IANA time zone, e.g. Asia/Seoul.")
    running: bool = False


class FreshnessConfig(Record):
    """How recent the index's last successful sync must be (Dagster's freshness policy)."""

    fail_after_minutes: float = Field(
        gt=0, description="The index is failing freshness when its last sync is older."
    )
    warn_after_minutes: float | None = Field(
        default=None, gt=0, description="It is warned about when its last sync is older."
    )

    @model_validator(mode="after")
    def _check(self) -> FreshnessConfig:
        if (
            self.warn_after_minutes is not None
            and self.warn_after_minutes >= self.fail_after_minutes
        ):
            raise ValueError("warn_after_minutes must be below fail_after_minutes")
        return self


class ChangeSensorConfig(Record):
    """The sensor that polls cheap change markers and requests incremental syncs."""

    interval_seconds: int = Field(
        default=1,
        ge=1,
        description="Seconds between change probes: one MAX(cursor) on a session kept open.",
    )
    running: bool = False


class FollowConfig(Record):
    """A long-running Dagster run that keeps the index fresh: it probes the source every
    ``interval_seconds`` and syncs what changed at once (docs/dagster.md)."""

    interval_seconds: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="Seconds between change probes (one MAX(cursor) per followed index).",
    )
    running: bool = Field(
        default=False, description="Whether the sensor that keeps the follow run going is on."
    )
    max_concurrent_syncs: int = Field(
        default=4, ge=1, description="Indexes one follow run syncs at once."
    )
    handover_after_minutes: float = Field(
        default=60,
        gt=0,
        description="Minutes after which a follow run hands over to a new one and ends: "
        "Dagster keeps every event of a running step in memory, so a run that never ended "
        "would grow without bound. The two overlap, so following never pauses.",
    )


class Orchestration(Record):
    """How Dagster runs and shows one index."""

    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    change_sensor: ChangeSensorConfig | None = Field(
        default_factory=ChangeSensorConfig,
        description="Set to null to have no change sensor (it needs `cursor`).",
    )
    owners: tuple[str, ...] = Field(
        default=(), description="Dagster owners of the index asset (emails or team:name)."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Dagster tags of the asset.")
    group: str = Field(
        default="oracle_meili",
        description="Dagster asset group of the index (its source tables join it when every "
        "index reading them is in one group).",
    )
    freshness: FreshnessConfig | None = Field(
        default=None, description="Dagster freshness policy of the index asset."
    )
    follow: FollowConfig | None = Field(
        default=None,
        description="Keep the index fresh with a long-running follow run (it needs `cursor`).",
    )

    @model_validator(mode="after")
    def _one_automation(self) -> Orchestration:
        sensor = self.change_sensor
        if (
            self.follow is not None
            and self.follow.running
            and sensor is not None
            and sensor.running
        ):
            raise ValueError(
                "follow.running and change_sensor.running are both true: choose one (the "
                "follow run syncs every change already)"
            )
        return self


# The keys of an index entry that are the Dagster layer's.
ORCHESTRATION_KEYS = frozenset(Orchestration.model_fields)
