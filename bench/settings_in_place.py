"""Measurement: which settings changes Meilisearch applies without re-indexing.

    python -m bench.settings_in_place --documents 100000

Loads the demo catalogue's documents into a pinned Meilisearch (the shipped settings of
``products``), then changes one setting at a time and reads the settings task's own
``duration`` from Meilisearch: a change applied at query time takes milliseconds whatever
the index's size, one that re-indexes takes a time that grows with it. Prints one row per
setting; ``oracle_meili.engine.apply_settings.IN_PLACE_SETTINGS`` lists those measured to
take under 1 % of the re-indexing ones' time.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
from pathlib import Path
from typing import Any

import meilisearch
import sqlalchemy as sa
import yaml

from bench.full_sync import BENCH_FLAGS, DEMO_CONFIG
from oracle_meili.adapters.server import MeilisearchProcess, free_port
from oracle_meili.demo import create_demo

# One change of each setting, from the demo's shipped settings: (what is shown, the key, the
# new value).
CHANGES: list[tuple[str, str, Any]] = [
    (key, key, value)
    for key, value in {
        "displayedAttributes": ["name", "price"],
        "rankingRules": ["words", "sort", "typo", "proximity", "attribute", "exactness"],
        "synonyms": {"earbuds": ["earphones"], "이어폰": ["earbuds"]},
        "typoTolerance": {"minWordSizeForTypos": {"oneTypo": 4, "twoTypos": 8}},
        "pagination": {"maxTotalHits": 5000},
        "faceting": {"maxValuesPerFacet": 50},
        "searchCutoffMs": 150,
        "distinctAttribute": "brand",
        "stopWords": ["the", "a"],
        "searchableAttributes": ["name", "category"],
        "filterableAttributes": ["category", "brand", "lang", "price", "stock"],  # one fewer
        "sortableAttributes": ["price"],  # two fewer
        "proximityPrecision": "byAttribute",
        "separatorTokens": ["|"],
        "dictionary": ["C++"],
        "localizedAttributes": [{"attributePatterns": ["*"], "locales": ["kor", "eng"]}],
        "prefixSearch": "disabled",
        "facetSearch": False,
    }.items()
] + [
    (
        "filterableAttributes (adding one)",
        "filterableAttributes",
        ["category", "brand", "lang", "price", "stock", "updated_at_epoch", "name"],
    ),
    (
        "sortableAttributes (adding one)",
        "sortableAttributes",
        ["price", "stock", "updated_at_epoch", "name"],
    ),
    ("distinctAttribute (not filterable)", "distinctAttribute", "sku"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oracle-meili-bench-") as scratch:
        work = Path(scratch)
        db = create_demo(work / "demo.db", rows=args.documents)
        server = MeilisearchProcess(
            data_dir=work / "ms",
            port=free_port(),
            master_key=secrets.token_urlsafe(24),
            flags=BENCH_FLAGS,
            log_path=work / "ms.log",
        )
        server.start()
        try:
            measure(server, db)
        finally:
            server.stop()


def measure(server: MeilisearchProcess, db: Path) -> None:
    client = meilisearch.Client(server.url, server.master_key, timeout=600)
    shipped = next(
        i for i in yaml.safe_load(DEMO_CONFIG.read_text())["indexes"] if i["name"] == "products"
    )["settings"]
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        rows = [dict(r._mapping) for r in c.exec_driver_sql("SELECT * FROM PRODUCTS")]
    documents = [{k.lower(): v for k, v in row.items()} for row in rows]
    print(f"\n{len(documents):,} documents; the settings task's own duration per change:\n")
    print("| setting | task duration |")
    print("|---|---|")
    for number, (label, key, value) in enumerate(CHANGES):
        uid = f"m_{number}"
        client.wait_for_task(client.create_index(uid, {"primaryKey": "product_id"}).task_uid)
        index = client.index(uid)
        client.wait_for_task(index.update_settings(shipped).task_uid, timeout_in_ms=600_000)
        for start in range(0, len(documents), 50_000):
            task = index.add_documents(documents[start : start + 50_000])
            client.wait_for_task(task.task_uid, timeout_in_ms=600_000)
        done = client.wait_for_task(
            index.update_settings({key: value}).task_uid, timeout_in_ms=600_000
        )
        print(f"| `{label}` | {done.duration} ({done.status}) |")
        client.wait_for_task(client.delete_index(uid).task_uid)


if __name__ == "__main__":
    main()
