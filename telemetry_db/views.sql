-- Relations the batch road reads from telemetry_db (docs/airflow.md, "How changes are detected").
-- Idempotent: run as a superuser after init.sql, by `bionicflow up` on every start
-- (embedded) or from /docker-entrypoint-initdb.d (compose; after an upgrade run it by hand:
-- psql -f telemetry_db/views.sql). Role names come from the environment, as for init.sql.
\set ON_ERROR_STOP on
\getenv owner TELEMETRY_USER
\getenv etl_reader ETL_READER_USER
\set table telemetry_events
\set key_masks telemetry_events_key_masks
DROP VIEW IF EXISTS public.telemetry_events_key_buckets;  -- replaced by telemetry_events_key_masks (December 2026)
\ir ../sources/batch_views.sql

-- The table as batch loads and reconciliation read it:
-- * the amplitude as text: ClickHouse's PostgreSQL reader rejects subnormal doubles such as
--   5e-324 that its own text parser accepts, so ClickHouse casts the text itself (exact:
--   PostgreSQL prints the shortest text that reads back as the same double);
-- * `_xid`: the 64-bit id of the transaction that last wrote the row (sources/batch_views.sql).
CREATE OR REPLACE VIEW public.telemetry_events_olap AS
WITH s AS MATERIALIZED (SELECT public.bionicflow_age_origin() AS origin)  -- once per query
SELECT e.id, e.event_uuid, e.user_uuid, e.prosthesis_type, e.muscle_group, e.signal_frequency, e.signal_duration,
       e.signal_amplitude::text AS signal_amplitude, e.created_ts, e.saved_ts,
       s.origin - age(e.xmin) AS _xid
FROM public.telemetry_events AS e CROSS JOIN s;
ALTER VIEW public.telemetry_events_olap OWNER TO :"owner";
GRANT SELECT ON public.telemetry_events_olap TO :"etl_reader";
-- the text-cast widening the view used before December 2026
DROP FUNCTION IF EXISTS public.bionicflow_xid64(xid, bigint);
