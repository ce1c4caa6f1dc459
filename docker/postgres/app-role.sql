-- The app's database role: an ordinary role, so PostgreSQL applies row-level security to
-- everything it runs (no SUPERUSER, no BYPASSRLS, owns no table). Idempotent: run it again at
-- any time, e.g. after a password change. Run as a superuser (or the owner with CREATEROLE) in
-- the app's database, with three psql variables:
--   psql -v ON_ERROR_STOP=1 -v app_role=ledgerline_app -v app_password=... \
--        -v owner=<the role that runs migrations> -d ledgerline -f docker/postgres/app-role.sql
-- (docs/operations.md, "Database roles"). An empty app_password means no password (trust or
-- certificate authentication).

SELECT format('CREATE ROLE %I LOGIN', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \gexec

SELECT format(
    'ALTER ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD %s',
    :'app_role',
    CASE WHEN :'app_password' = '' THEN 'NULL' ELSE quote_literal(:'app_password') END
) \gexec

SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'app_role') \gexec
SELECT format('GRANT USAGE ON SCHEMA public TO %I', :'app_role') \gexec

-- Reading and writing rows; never DDL, TRUNCATE or ownership. Tables and sequences that exist
-- now, and those the owner creates from now on (each migration).
SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I',
              :'app_role') \gexec
SELECT format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO %I',
              :'app_role') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public '
              'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', :'owner', :'app_role') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public '
              'GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO %I', :'owner', :'app_role') \gexec
