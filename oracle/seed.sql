-- The test schema's user and the privileges oracle-meili needs, for the opt-in suite.
-- The container creates the user (APP_USER); this adds what a sync user needs beyond it.
-- A production sync user needs only CREATE SESSION and SELECT on the source tables (plus
-- the two flashback grants below when `consistent_snapshot: true`); the test user also
-- creates and drops its own tables.
GRANT CREATE SESSION, CREATE TABLE TO oracle_meili;
ALTER USER oracle_meili QUOTA UNLIMITED ON USERS;
-- consistent_snapshot: the SCN to read AS OF. Owners may flashback-query their own tables;
-- for another schema's tables also GRANT FLASHBACK ON schema.table TO the sync user.
GRANT EXECUTE ON SYS.DBMS_FLASHBACK TO oracle_meili;
