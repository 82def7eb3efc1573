"""The sync engine: full and incremental syncs, checkpoints, state, reconciliation and
consistency, and the runner every front end calls. Imports nothing from Dagster."""
