"""The embedded demo source: a deterministic product catalogue in SQLite.

Shaped like an Oracle table (upper-case column names, NUMBER-style prices, a CHAR(1)
soft-delete flag, created/updated timestamps), with Korean and English names and
descriptions and a few NULLs, so the demo exercises the same paths as a real source.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from oracle_meili.demo_stores import populate_stores

DEFAULT_ROWS = 10_000
DEFAULT_PATH = Path("demo/demo.db")
SEED = 20261129
# The default last moment of the catalogue: a fixed one keeps the rows deterministic (the
# tests' sources). `oracle-meili demo` passes the moment it builds the demo instead, so that
# the demo looks like a live table: changes spread up to now, the lag of a sync real.
EPOCH = dt.datetime(2026, 1, 1)
INSERT_CHUNK = 10_000

# (Korean, English) pairs: the same product family in both languages.
_PRODUCTS = [
    ("무선 이어폰", "Wireless Earbuds", "전자기기", "Electronics"),
    ("블루투스 스피커", "Bluetooth Speaker", "전자기기", "Electronics"),
    ("노트북 거치대", "Laptop Stand", "사무용품", "Office"),
    ("기계식 키보드", "Mechanical Keyboard", "전자기기", "Electronics"),
    ("텀블러", "Tumbler", "주방용품", "Kitchen"),
    ("전기 주전자", "Electric Kettle", "주방용품", "Kitchen"),
    ("러닝화", "Running Shoes", "스포츠", "Sports"),
    ("요가 매트", "Yoga Mat", "스포츠", "Sports"),
    ("백팩", "Backpack", "패션", "Fashion"),
    ("가죽 지갑", "Leather Wallet", "패션", "Fashion"),
    ("녹차", "Green Tea", "식품", "Food"),
    ("원두 커피", "Coffee Beans", "식품", "Food"),
    ("수분 크림", "Moisturizing Cream", "뷰티", "Beauty"),
    ("선크림", "Sunscreen", "뷰티", "Beauty"),
    ("그림책", "Picture Book", "도서", "Books"),
    ("만년필", "Fountain Pen", "사무용품", "Office"),
]
_ADJECTIVES = [
    ("프리미엄", "Premium"),
    ("친환경", "Eco-friendly"),
    ("초경량", "Ultralight"),
    ("휴대용", "Portable"),
    ("고급", "Deluxe"),
    ("실속형", "Essential"),
    ("한정판", "Limited Edition"),
    ("스마트", "Smart"),
]
_BRANDS = ["한빛", "Arirang", "누리", "Seoul Works", "가온", "Hanok Living", "미르", "Jeju Labs"]
_FEATURES_KO = ["방수 기능", "빠른 배송", "1년 보증", "국내 생산", "선물 포장 가능", "저소음 설계"]
_FEATURES_EN = [
    "water resistant",
    "fast shipping",
    "one-year warranty",
    "made in Korea",
    "gift wrapping",
    "quiet design",
]


def products_table(metadata: sa.MetaData, *, name: str = "PRODUCTS") -> sa.Table:
    """The demo table, declared the way an Oracle DBA would (upper-case names)."""
    return sa.Table(
        name,
        metadata,
        sa.Column("PRODUCT_ID", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("SKU", sa.String(32), nullable=False),
        sa.Column("NAME", sa.String(200), nullable=False),
        sa.Column("DESCRIPTION", sa.Text),
        sa.Column("CATEGORY", sa.String(50), nullable=False),
        sa.Column("BRAND", sa.String(50)),
        sa.Column("LANG", sa.String(2), nullable=False),
        sa.Column("PRICE", sa.Numeric(12, 2), nullable=False),
        sa.Column("STOCK", sa.Integer, nullable=False),
        sa.Column("CREATED_AT", sa.DateTime, nullable=False),
        sa.Column("UPDATED_AT", sa.DateTime, nullable=False, index=True),
        sa.Column("IS_DELETED", sa.CHAR(1), nullable=False, server_default="N"),
    )


def demo_rows(
    count: int, *, seed: int = SEED, start_id: int = 1, until: dt.datetime = EPOCH
) -> Iterator[dict[str, Any]]:
    """``count`` deterministic product rows (the same seed and ``until`` give the same rows).

    Created in the two years before ``until``, each last updated at a moment between its
    creation and ``until``, to the second: modification times spread up to ``until`` with
    few ties, as in a live table."""
    rng = random.Random(seed)
    for product_id in range(start_id, start_id + count):
        name_ko, name_en, category_ko, category_en = rng.choice(_PRODUCTS)
        adjective_ko, adjective_en = rng.choice(_ADJECTIVES)
        korean = rng.random() < 0.5
        features = rng.sample(range(len(_FEATURES_KO)), 2)
        created = until - dt.timedelta(seconds=rng.randrange(2 * 365 * 86400))
        age = int((until - created).total_seconds())
        updated = created + dt.timedelta(seconds=rng.randrange(age + 1))
        if korean:
            name = f"{adjective_ko} {name_ko} {product_id}"
            description = f"{name_ko} - {', '.join(_FEATURES_KO[f] for f in features)}."
        else:
            name = f"{adjective_en} {name_en} {product_id}"
            description = f"{name_en} with {' and '.join(_FEATURES_EN[f] for f in features)}."
        yield {
            "PRODUCT_ID": product_id,
            "SKU": f"SKU-{product_id:08d}",
            "NAME": name,
            "DESCRIPTION": None if rng.random() < 0.03 else description,
            "CATEGORY": category_ko if korean else category_en,
            "BRAND": None if rng.random() < 0.05 else rng.choice(_BRANDS),
            "LANG": "ko" if korean else "en",
            "PRICE": Decimal(rng.randrange(500, 500_000)) / 100,
            "STOCK": rng.randrange(0, 1000),
            "CREATED_AT": created,
            "UPDATED_AT": updated,
            "IS_DELETED": "Y" if rng.random() < 0.02 else "N",
        }


def create_demo(
    path: str | Path = DEFAULT_PATH,
    *,
    rows: int = DEFAULT_ROWS,
    seed: int = SEED,
    until: dt.datetime = EPOCH,
) -> Path:
    """(Re)create the demo database at ``path`` with ``rows`` products changed up to
    ``until``, and the stores table. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (
        path,
        path.with_name(path.name + "-journal"),
        path.with_name(path.name + "-wal"),
    ):
        leftover.unlink(missing_ok=True)
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        populate(engine, rows=rows, seed=seed, until=until)
        populate_stores(engine, until=until)
    finally:
        engine.dispose()
    return path


def populate(
    engine: sa.Engine,
    *,
    rows: int,
    seed: int = SEED,
    table_name: str = "PRODUCTS",
    until: dt.datetime = EPOCH,
) -> sa.Table:
    """Create the products table (named ``table_name``) on any database and fill it."""
    metadata = sa.MetaData()
    table = products_table(metadata, name=table_name)
    metadata.create_all(engine)
    chunk: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for row in demo_rows(rows, seed=seed, until=until):
            chunk.append(row)
            if len(chunk) == INSERT_CHUNK:
                connection.execute(table.insert(), chunk)
                chunk = []
        if chunk:
            connection.execute(table.insert(), chunk)
    return table


def soft_deleted(path: str | Path) -> int:
    """How many of the demo's products are soft-deleted (left out of the index)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT COUNT(*) FROM PRODUCTS WHERE IS_DELETED = 'Y'")
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()
