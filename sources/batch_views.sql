-- The views the batch road needs beside each table's `<table>_olap` view, for one table:
-- included by crm_db/views.sql and telemetry_db/views.sql (`\ir`), which set the psql
-- variables `owner`, `etl_reader`, `table` (e.g. users) and `key_masks` (users_key_masks).
-- docs/airflow.md, "How changes are detected", says how a load uses them.

-- The 64-bit id that age(xid) counts from in the current transaction. A row's `_xid` (the
-- 64-bit id of the transaction that last wrote it) is this minus age(xmin): age() is
-- PostgreSQL's own wrap-aware 32-bit distance, exact for every row written in the last 2^31
-- transactions, and twice as fast per row as widening xmin through its text form. Frozen
-- rows keep their raw xmin since PostgreSQL 9.4; rows older than 2^31 transactions may read
-- as recent, which only reloads them. The reference is the snapshot's xmax (never one of
-- the special ids 0-2, whose age() is "infinitely old").
CREATE OR REPLACE FUNCTION public.bionicflow_age_origin() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT ref + age((ref % 4294967296)::text::xid)
    FROM (SELECT CASE WHEN x % 4294967296 < 3 THEN x - 3 ELSE x END AS ref
          FROM (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS x) AS snap) AS r
$$;
ALTER FUNCTION public.bionicflow_age_origin() OWNER TO :"owner";

-- The table's keys as bitmaps: per bucket of 64 ids, bit i set when id bucket*64+i exists.
-- An exact copy of the key set in 1/64 of the rows, aggregated where the keys are: a load
-- builds the same bitmaps from `default` and deletes the keys only `default` has (and
-- loads the ones only the source has), without reading the source's keys one by one.
CREATE OR REPLACE VIEW public.:"key_masks" AS
SELECT id >> 6 AS bucket, bit_or(1::bigint << (id & 63)::int) AS key_mask
FROM public.:"table" GROUP BY 1;
ALTER VIEW public.:"key_masks" OWNER TO :"owner";
GRANT SELECT ON public.:"key_masks" TO :"etl_reader";
-- The aggregation keeps one small state per 64 ids (~80,000 for 5M rows): with the default
-- 4 MB it spills to disk and takes ~1.6x as long. Only the ETL reader's sessions in this
-- database get more (a query of theirs uses it at most once per hash).
ALTER ROLE :"etl_reader" IN DATABASE :"DBNAME" SET work_mem = '32MB';

-- What a load must know before it trusts its cursor: which cluster this is, whether the
-- table was rewritten (TRUNCATE, VACUUM FULL, CLUSTER give it a new file), and the
-- transaction horizon of now (`snapshot_xmin`: every transaction below it has ended).
-- And whether anything was written at all: PostgreSQL's cumulative counters of inserted,
-- updated and deleted rows only grow between resets; `stats_epoch` names the reset (the
-- server's start, the database's last statistics reset) and is NULL when the counters
-- are off (track_counts), so a load trusts "nothing changed" only within one epoch.
CREATE OR REPLACE VIEW public.bionicflow_source_state AS
SELECT c.relname::text AS table_name, pg_relation_filenode(c.oid)::bigint AS filenode,
       pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS snapshot_xmin,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid,
       (SELECT system_identifier FROM pg_control_system())::text AS system_identifier,
       CASE WHEN current_setting('track_counts')::boolean THEN
           pg_postmaster_start_time()::text || ' / ' || coalesce(
               (SELECT d.stats_reset::text FROM pg_stat_database AS d WHERE d.datname = current_database()), 'never')
       END AS stats_epoch,
       pg_stat_get_tuples_inserted(c.oid) + pg_stat_get_tuples_updated(c.oid) AS rows_written,
       pg_stat_get_tuples_updated(c.oid) + pg_stat_get_tuples_deleted(c.oid) AS rows_removed
FROM pg_class AS c
WHERE c.relnamespace = 'public'::regnamespace AND c.relname = :'table';
ALTER VIEW public.bionicflow_source_state OWNER TO :"owner";
GRANT SELECT ON public.bionicflow_source_state TO :"etl_reader";
