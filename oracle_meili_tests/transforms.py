"""Transforms the tests name in configurations (``transform: oracle_meili_tests.transforms:…``)."""

from __future__ import annotations

import os
from typing import Any


def add_label(document: dict[str, Any]) -> dict[str, Any]:
    """Adds a field made from two others."""
    return {**document, "label": f"{document.get('name')} ({document.get('category')})"}


def drop_discontinued(document: dict[str, Any]) -> dict[str, Any] | None:
    """Keeps discontinued products out of the index."""
    return None if document.get("status") == "discontinued" else document


def fail(document: dict[str, Any]) -> dict[str, Any]:
    raise KeyError("price_band")


def change_id(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "item_id": 0}


not_callable = 42


# A fault a test switches on and off from outside: worker processes see it too.
FAIL_ID_VARIABLE = "ORACLE_MEILI_TEST_FAIL_ID"


def fail_on_marked_id(document: dict[str, Any]) -> dict[str, Any]:
    """Fails on the product whose id is in ``$ORACLE_MEILI_TEST_FAIL_ID``; passes the rest."""
    if str(document.get("product_id")) == os.environ.get(FAIL_ID_VARIABLE):
        raise RuntimeError("injected fault")
    return document
