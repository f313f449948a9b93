-- CRM database: schema, the Debezium user and its publication.
-- Run once by psql as a superuser, connected to crm_db: by `bionicflow up` (embedded)
-- or from /docker-entrypoint-initdb.d (compose). Passwords come from the environment
-- (DEBEZIUM_USER, DEBEZIUM_PASSWORD, ETL_READER_USER, ETL_READER_PASSWORD, CRM_USER), never from this file.
\set ON_ERROR_STOP on
\getenv debezium_user DEBEZIUM_USER
\getenv debezium_password DEBEZIUM_PASSWORD
\getenv crm_user CRM_USER
\getenv etl_reader ETL_READER_USER
\getenv etl_reader_password ETL_READER_PASSWORD

CREATE TABLE public.users (
    id            BIGSERIAL PRIMARY KEY,
    user_uuid     UUID         NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    name          TEXT         NOT NULL,
    email         TEXT         NOT NULL,
    age           INTEGER,
    gender        TEXT,
    country       TEXT,
    address       TEXT,
    phone         TEXT,
    registered_at TIMESTAMP(6) NOT NULL DEFAULT now()
);
CREATE INDEX users_registered_at_idx ON public.users (registered_at);
ALTER TABLE public.users OWNER TO :"crm_user";
-- Full before/after images: updates never carry Debezium's unavailable-value
-- placeholder for unchanged TOASTed text, and deletes carry every column.
ALTER TABLE public.users REPLICA IDENTITY FULL;

-- Debezium's signalling table: Airflow's backfill DAG inserts ad hoc incremental-snapshot
-- signals; Debezium inserts the snapshot's watermark rows (its only write, see below).
CREATE TABLE public.debezium_signal (
    id   VARCHAR(42) PRIMARY KEY,
    type VARCHAR(32) NOT NULL,
    data VARCHAR(2048)
);
ALTER TABLE public.debezium_signal OWNER TO :"crm_user";

-- The batch road and reconciliation read through this role: SELECT only, no replication.
CREATE ROLE :"etl_reader" WITH LOGIN PASSWORD :'etl_reader_password';
GRANT CONNECT ON DATABASE crm_db TO :"etl_reader";
GRANT USAGE ON SCHEMA public TO :"etl_reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"etl_reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"crm_user" IN SCHEMA public GRANT SELECT ON TABLES TO :"etl_reader";

-- Debezium reads (snapshot + logical replication) and nothing else.
CREATE ROLE :"debezium_user" WITH LOGIN REPLICATION PASSWORD :'debezium_password';
GRANT CONNECT ON DATABASE crm_db TO :"debezium_user";
GRANT USAGE ON SCHEMA public TO :"debezium_user";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"debezium_user";
GRANT INSERT ON public.debezium_signal TO :"debezium_user";  -- incremental-snapshot watermarks only
ALTER DEFAULT PRIVILEGES FOR ROLE :"crm_user" IN SCHEMA public GRANT SELECT ON TABLES TO :"debezium_user";

CREATE PUBLICATION crm_debezium_publication FOR TABLE public.users, public.debezium_signal;
