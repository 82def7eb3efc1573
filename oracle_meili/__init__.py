"""oracle-meili: keep Meilisearch indexes in sync with Oracle tables.

The engine (``config``, ``source``, ``documents``, ``meili``, ``sync``, ``state``) is plain
Python; ``oracle_meili.defs`` wraps it for Dagster and ``oracle_meili.cli`` for the shell.
"""

__version__ = "0.1.0"
