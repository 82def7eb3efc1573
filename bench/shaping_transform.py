"""The transform ``bench/full_sync.py --shaping`` runs: a field computed from another."""

from __future__ import annotations

from typing import Any


def price_band(document: dict[str, Any]) -> dict[str, Any]:
    price = document.get("price") or 0
    return {**document, "price_band": "low" if price < 20 else "mid" if price < 100 else "high"}
