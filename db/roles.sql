-- The roles of the jobs database and what each may do. Idempotent.
-- Run as a superuser connected to the `jobs` database, with the psql variables
-- command_password, query_password and replication_password (the local launcher
-- substitutes them itself; compose runs this file through psql from db/init-roles.sh).

DO $$ BEGIN CREATE ROLE jobs_command LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE jobs_query LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
ALTER ROLE jobs_command PASSWORD :'command_password';
ALTER ROLE jobs_query PASSWORD :'query_password';

-- The command side owns the schema: it applies the migrations and does every write.
ALTER DATABASE jobs OWNER TO jobs_command;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- The query side reads, and only reads: SELECT on every table, now and after later
-- migrations, and read-only transactions as a second lock on the same door.
GRANT CONNECT ON DATABASE jobs TO jobs_query;
GRANT USAGE ON SCHEMA public TO jobs_query;
ALTER DEFAULT PRIVILEGES FOR ROLE jobs_command IN SCHEMA public GRANT SELECT ON TABLES TO jobs_query;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO jobs_query;
ALTER ROLE jobs_query SET default_transaction_read_only = on;

-- Standbys stream the WAL with this role: REPLICATION and LOGIN, nothing else. pg_hba
-- admits it to replication connections only (the launcher and db/init-roles.sh put a
-- `reject` line for it before the lines for ordinary connections).
DO $$ BEGIN CREATE ROLE jobs_replication LOGIN REPLICATION; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
ALTER ROLE jobs_replication LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS PASSWORD :'replication_password';
