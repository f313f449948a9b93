-- Telemetry database: schema, the Debezium user and its publication.
-- Run once by psql as a superuser, connected to telemetry_db: by `bionicflow up` (embedded)
-- or from /docker-entrypoint-initdb.d (compose). Passwords come from the environment
-- (DEBEZIUM_USER, DEBEZIUM_PASSWORD, ETL_READER_USER, ETL_READER_PASSWORD, TELEMETRY_USER), never from this file.
\set ON_ERROR_STOP on
\getenv debezium_user DEBEZIUM_USER
\getenv debezium_password DEBEZIUM_PASSWORD
\getenv telemetry_user TELEMETRY_USER
\getenv etl_reader ETL_READER_USER
\getenv etl_reader_password ETL_READER_PASSWORD

CREATE TABLE public.telemetry_events (
    id               BIGSERIAL PRIMARY KEY,
    event_uuid       UUID             NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    user_uuid        UUID             NOT NULL,
    prosthesis_type  TEXT             NOT NULL,
    muscle_group     TEXT             NOT NULL,
    signal_frequency INTEGER          NOT NULL,
    signal_duration  INTEGER          NOT NULL,
    signal_amplitude DOUBLE PRECISION NOT NULL,
    created_ts       TIMESTAMP(6)     NOT NULL,
    saved_ts         TIMESTAMP(6)     NOT NULL DEFAULT now()
);
CREATE INDEX telemetry_events_created_ts_idx ON public.telemetry_events (created_ts);
CREATE INDEX telemetry_events_user_uuid_idx ON public.telemetry_events (user_uuid);
ALTER TABLE public.telemetry_events OWNER TO :"telemetry_user";
-- Full before/after images: deletes carry every column (see crm_db/init.sql).
ALTER TABLE public.telemetry_events REPLICA IDENTITY FULL;

-- What ClickHouse reads for batch loads and reconciliation: telemetry_db/views.sql, run after this file.

-- Debezium's signalling table: Airflow's backfill DAG inserts ad hoc incremental-snapshot
-- signals; Debezium inserts the snapshot's watermark rows (its only write, see below).
CREATE TABLE public.debezium_signal (
    id   VARCHAR(42) PRIMARY KEY,
    type VARCHAR(32) NOT NULL,
    data VARCHAR(2048)
);
ALTER TABLE public.debezium_signal OWNER TO :"telemetry_user";

-- The batch road and reconciliation read through this role: SELECT only, no replication.
CREATE ROLE :"etl_reader" WITH LOGIN PASSWORD :'etl_reader_password';
GRANT CONNECT ON DATABASE telemetry_db TO :"etl_reader";
GRANT USAGE ON SCHEMA public TO :"etl_reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"etl_reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"telemetry_user" IN SCHEMA public GRANT SELECT ON TABLES TO :"etl_reader";

-- Debezium reads (snapshot + logical replication) and nothing else.
CREATE ROLE :"debezium_user" WITH LOGIN REPLICATION PASSWORD :'debezium_password';
GRANT CONNECT ON DATABASE telemetry_db TO :"debezium_user";
GRANT USAGE ON SCHEMA public TO :"debezium_user";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"debezium_user";
GRANT INSERT ON public.debezium_signal TO :"debezium_user";  -- incremental-snapshot watermarks only
ALTER DEFAULT PRIVILEGES FOR ROLE :"telemetry_user" IN SCHEMA public GRANT SELECT ON TABLES TO :"debezium_user";

CREATE PUBLICATION telemetry_debezium_publication FOR TABLE public.telemetry_events, public.debezium_signal;
