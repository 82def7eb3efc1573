"""The Dagster layer: resources, one asset per index, and the metadata they record."""
