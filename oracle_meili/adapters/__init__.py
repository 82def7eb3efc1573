"""The systems oracle-meili talks to: the source database (SQLAlchemy, python-oracledb)
and Meilisearch (client, payloads, the pinned server)."""
