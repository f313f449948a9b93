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

-- The table's change journal (sources/batch_views.sql): its triggers are made once and kept.
SELECT public.bionicflow_make_journal('public.telemetry_events');
-- The table as batch loads and reconciliation read it (sources/batch_views.sql): made from the
-- table's columns, and made again by an event trigger when the table gains a column; with
-- the journal's two views of the changed rows and of the keys gone.
SELECT public.bionicflow_make_olap_view('public.telemetry_events');
GRANT SELECT ON public.telemetry_events_olap, public.telemetry_events_olap_changes, public.telemetry_events_gone TO :"etl_reader";
-- the text-cast widening the view used before December 2026
DROP FUNCTION IF EXISTS public.bionicflow_xid64(xid, bigint);
