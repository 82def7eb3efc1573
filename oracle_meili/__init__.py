"""oracle-meili: keep Meilisearch indexes in sync with Oracle tables.

The engine (``config``, ``documents``, ``adapters``, ``engine``) is plain Python;
``oracle_meili.defs`` wraps it for Dagster (its ``component`` makes it a Dagster Component)
and ``oracle_meili.cli`` a shell command.
"""

from typing import Any

__version__ = "0.1.0"

# `oracle_meili.OracleMeiliComponent` for `dg` (the `dagster_dg_cli.registry_modules` entry
# point), imported on first use only: the engine and the CLI never import Dagster.
# The translator and the builder, for a code location of one's own, likewise.
_LAZY = {
    "OracleMeiliComponent": "oracle_meili.defs.component",
    "OracleMeiliTranslator": "oracle_meili.defs.translator",
    "IndexAsset": "oracle_meili.defs.translator",
    "TableAsset": "oracle_meili.defs.translator",
    "build_definitions": "oracle_meili.defs.build",
    "load_config": "oracle_meili.config",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'oracle_meili' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
