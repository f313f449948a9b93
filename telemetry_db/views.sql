-- Relations the batch road reads from telemetry_db (docs/airflow.md, "How changes are detected").
-- Idempotent: run as a superuser after init.sql, by `bionicflow up` on every start
-- (embedded) or from /docker-entrypoint-initdb.d (compose; after an upgrade run it by hand:
-- psql -f telemetry_db/views.sql). Role names come from the environment, as for init.sql.
\set ON_ERROR_STOP on
\getenv telemetry_user TELEMETRY_USER
\getenv etl_reader ETL_READER_USER

-- The 64-bit id of the transaction that wrote a row, from its 32-bit xmin and the next
-- transaction id of the reading snapshot: the latest id at or below next_xid with those low
-- 32 bits. Exact for every row written in the last 2^31 transactions (frozen rows keep
-- their raw xmin since PostgreSQL 9.4; rows older than that may read as recent, which only
-- reloads them). IMMUTABLE and SQL: inlined into the view, no call per row.
CREATE OR REPLACE FUNCTION public.bionicflow_xid64(raw xid, next_xid bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT next_xid - ((next_xid - raw::text::bigint) % 4294967296 + 4294967296) % 4294967296 $$;
ALTER FUNCTION public.bionicflow_xid64(xid, bigint) OWNER TO :"telemetry_user";

-- The table as batch loads and reconciliation read it:
-- * the amplitude as text: ClickHouse's PostgreSQL reader rejects subnormal doubles such as
--   5e-324 that its own text parser accepts, so ClickHouse casts the text itself (exact:
--   PostgreSQL prints the shortest text that reads back as the same double);
-- * `_xid`: the 64-bit id of the transaction that last wrote the row (bionicflow_xid64).
CREATE OR REPLACE VIEW public.telemetry_events_olap AS
WITH s AS MATERIALIZED (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid)  -- once per query
SELECT e.id, e.event_uuid, e.user_uuid, e.prosthesis_type, e.muscle_group, e.signal_frequency, e.signal_duration,
       e.signal_amplitude::text AS signal_amplitude, e.created_ts, e.saved_ts,
       public.bionicflow_xid64(e.xmin, s.next_xid) AS _xid
FROM public.telemetry_events AS e CROSS JOIN s;
ALTER VIEW public.telemetry_events_olap OWNER TO :"telemetry_user";
GRANT SELECT ON public.telemetry_events_olap TO :"etl_reader";

-- Keys per bucket of 65,536 ids (crm_db/views.sql says how a load uses them).
CREATE OR REPLACE VIEW public.telemetry_events_key_buckets AS
SELECT id >> 16 AS bucket, count(*) AS keys, sum(id & 65535)::bigint AS low_bits_sum
FROM public.telemetry_events GROUP BY 1;
ALTER VIEW public.telemetry_events_key_buckets OWNER TO :"telemetry_user";
GRANT SELECT ON public.telemetry_events_key_buckets TO :"etl_reader";

-- What a load must know before it trusts its cursor (crm_db/views.sql).
CREATE OR REPLACE VIEW public.bionicflow_source_state AS
SELECT c.relname::text AS table_name, pg_relation_filenode(c.oid)::bigint AS filenode,
       pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS snapshot_xmin,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid,
       (SELECT system_identifier FROM pg_control_system())::text AS system_identifier
FROM pg_class AS c
WHERE c.oid = 'public.telemetry_events'::regclass;
ALTER VIEW public.bionicflow_source_state OWNER TO :"telemetry_user";
GRANT SELECT ON public.bionicflow_source_state TO :"etl_reader";
