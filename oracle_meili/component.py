"""``oracle_meili.OracleMeiliComponent``: oracle-meili syncs inside an existing Dagster project.

In a ``dg`` project::

    dg scaffold defs oracle_meili.OracleMeiliComponent search_sync

writes ``defs/search_sync/defs.yaml``, whose ``attributes`` are this project's configuration
file (``source``, ``meilisearch``, ``indexes``), checked by the same loader, so every setting,
default and error message is the same. Secrets stay in the environment: ``ORACLE_PASSWORD``
and ``MEILI_API_KEY`` are read from it as they are for the configuration file (``dg``'s
``{{ env.NAME }}`` templates work too, for values that are not secret).

No ``from __future__ import annotations``: Dagster resolves the model's annotations.
"""

from typing import Any

import dagster as dg
from pydantic import Field

from oracle_meili.config import environment, parse_config
from oracle_meili.definitions import build_definitions

# What `dg scaffold defs` writes: the embedded demo's shape, pointed at a SQLite file, so the
# scaffold loads as it is and shows every part a user edits.
SCAFFOLD_ATTRIBUTES: dict[str, Any] = {
    "source": {"url": "sqlite:///demo/demo.db"},
    "meilisearch": {"url": "http://127.0.0.1:7700"},
    "indexes": [
        {
            "name": "products",
            "table": "PRODUCTS",
            "primary_key": "PRODUCT_ID",
            "cursor": "UPDATED_AT",
            "lookback_seconds": 300,
            "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
            "settings": {"searchableAttributes": ["name", "description"]},
            "schedule": {"incremental": "*/5 * * * *", "full": "0 3 * * *"},
        }
    ],
}


class OracleMeiliScaffolder(dg.Scaffolder):
    """Writes a ``defs.yaml`` with a complete example configuration to edit."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        dg.scaffold_component(request, SCAFFOLD_ATTRIBUTES)


@dg.scaffold_with(OracleMeiliScaffolder)
class OracleMeiliComponent(dg.Component, dg.Model, dg.Resolvable):
    """Meilisearch indexes kept in sync with Oracle (or any SQLAlchemy) tables.

    Each index becomes an asset ``meilisearch/<index>`` (partitions ``full`` and
    ``incremental``) downstream of its source table ``oracle/<table>``, with its sync,
    check, reconcile and observe jobs, schedules, change sensor and consistency checks.
    The attributes are those of the oracle-meili configuration file (see its README).
    """

    source: dict[str, Any] = Field(
        description="`url:` (any SQLAlchemy URL) or `oracle:` (user, dsn or host/service_name, "
        "pool, ...); the password comes from ORACLE_PASSWORD."
    )
    meilisearch: dict[str, Any] = Field(
        default_factory=dict,
        description="`url`, timeouts, retries; the API key comes from MEILI_API_KEY.",
    )
    indexes: list[dict[str, Any]] = Field(
        description="One entry per Meilisearch index: name, table or query, primary_key, "
        "cursor, schedule, settings, ..."
    )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        environ = environment()
        config = parse_config(
            {"source": self.source, "meilisearch": self.meilisearch, "indexes": self.indexes},
            environ=environ,
        )
        return build_definitions(config, environ)
