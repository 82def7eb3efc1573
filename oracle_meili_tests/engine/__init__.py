"""Tests of oracle_meili.engine."""
