"""Tests of oracle_meili.documents."""
