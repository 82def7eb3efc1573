"""Tests of oracle_meili.adapters."""
