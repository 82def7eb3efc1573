-- The test schema's user and the privileges oracle-meili needs, for the opt-in suite.
-- NOTE: the gvenzl/oracle-free image runs init scripts as SYSDBA in the root container
-- (CDB$ROOT); the application user lives in FREEPDB1, so switch there first, or every
-- grant below fails.
ALTER SESSION SET CONTAINER = FREEPDB1;
-- The container creates the user (APP_USER); this adds what a sync user needs beyond it.
-- A production sync user needs only CREATE SESSION and SELECT on the source tables (plus
-- the two flashback grants below when `consistent_snapshot: true`); the test user also
-- creates and drops its own tables and synonyms.
GRANT CREATE SESSION, CREATE TABLE, CREATE SYNONYM TO oracle_meili;
ALTER USER oracle_meili QUOTA UNLIMITED ON USERS;
-- consistent_snapshot: the SCN to read AS OF. Owners may flashback-query their own tables;
-- for another schema's tables also GRANT FLASHBACK ON schema.table TO the sync user.
GRANT EXECUTE ON SYS.DBMS_FLASHBACK TO oracle_meili;
-- Sessions as the field has them: a logon trigger with a linguistic sort and a non-UTC
-- time zone. oracle-meili must set its own session (NLS_SORT/NLS_COMP BINARY, UTC) over it.
CREATE OR REPLACE TRIGGER oracle_meili_field_session
AFTER LOGON ON oracle_meili.SCHEMA
BEGIN
  EXECUTE IMMEDIATE q'[ALTER SESSION SET NLS_SORT = GERMAN_CI NLS_COMP = LINGUISTIC TIME_ZONE = '+09:00']';
END;
/
