"""The demo's second table: shops in Korean cities with their coordinates (WGS 84, to about
10 m), for the ``stores`` index and its geosearch. One shop sells only online: no point."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

# Seoul Station, where the demo's geosearch starts.
SEOUL_STATION = (37.5547, 126.9707)

# (name, city, latitude, longitude)
STORES: list[tuple[str, str, float | None, float | None]] = [
    ("서울역점", "서울", 37.5550, 126.9700),
    ("시청점", "서울", 37.5663, 126.9779),
    ("명동점", "서울", 37.5636, 126.9827),
    ("광화문점", "서울", 37.5759, 126.9768),
    ("용산역점", "서울", 37.5298, 126.9648),
    ("신촌점", "서울", 37.5551, 126.9368),
    ("이태원점", "서울", 37.5345, 126.9946),
    ("홍대입구점", "서울", 37.5572, 126.9245),
    ("여의도점", "서울", 37.5219, 126.9245),
    ("강남역점", "서울", 37.4979, 127.0276),
    ("잠실점", "서울", 37.5133, 127.1001),
    ("판교점", "성남", 37.3947, 127.1112),
    ("수원역점", "수원", 37.2660, 127.0000),
    ("송도점", "인천", 37.3925, 126.6390),
    ("둔산점", "대전", 36.3510, 127.3780),
    ("동성로점", "대구", 35.8690, 128.5960),
    ("충장로점", "광주", 35.1490, 126.9160),
    ("서면점", "부산", 35.1578, 129.0600),
    ("해운대점", "부산", 35.1631, 129.1635),
    ("연동점", "제주", 33.4890, 126.4980),
    ("온라인 스토어", "온라인", None, None),
]


def stores_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "STORES",
        metadata,
        sa.Column("STORE_ID", sa.Integer, primary_key=True),
        sa.Column("NAME", sa.String(100), nullable=False),
        sa.Column("CITY", sa.String(50), nullable=False),
        sa.Column("LATITUDE", sa.Numeric(9, 6)),
        sa.Column("LONGITUDE", sa.Numeric(9, 6)),
        sa.Column("UPDATED_AT", sa.DateTime, nullable=False),
    )


def populate_stores(engine: sa.Engine, *, until: dt.datetime) -> sa.Table:
    """Create and fill the stores table, each shop changed a day apart up to ``until``."""
    metadata = sa.MetaData()
    table = stores_table(metadata)
    metadata.create_all(engine)
    rows = [
        {
            "STORE_ID": number,
            "NAME": name,
            "CITY": city,
            "LATITUDE": latitude,
            "LONGITUDE": longitude,
            "UPDATED_AT": until - dt.timedelta(days=len(STORES) - number),
        }
        for number, (name, city, latitude, longitude) in enumerate(STORES, start=1)
    ]
    with engine.begin() as connection:
        connection.execute(table.insert(), rows)
    return table
