-- The views the batch road needs beside each table's `<table>_olap` view, for one table:
-- included by crm_db/views.sql and telemetry_db/views.sql (`\ir`), which set the psql
-- variables `owner`, `etl_reader`, `table` (e.g. users) and `key_buckets` (users_key_buckets).
-- docs/airflow.md, "How changes are detected", says how a load uses them.

-- The 64-bit id of the transaction that wrote a row, from its 32-bit xmin and the next
-- transaction id of the reading snapshot: the latest id at or below next_xid with those low
-- 32 bits. Exact for every row written in the last 2^31 transactions (frozen rows keep
-- their raw xmin since PostgreSQL 9.4; rows older than that may read as recent, which only
-- reloads them). IMMUTABLE and SQL: inlined into the view, no call per row.
CREATE OR REPLACE FUNCTION public.bionicflow_xid64(raw xid, next_xid bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT next_xid - ((next_xid - raw::text::bigint) % 4294967296 + 4294967296) % 4294967296 $$;
ALTER FUNCTION public.bionicflow_xid64(xid, bigint) OWNER TO :"owner";

-- Keys per bucket of 65,536 ids: count and the sum of the low 16 bits. A load compares
-- them with `default` to find the buckets that hold deleted keys, then compares only
-- those buckets key by key.
CREATE OR REPLACE VIEW public.:"key_buckets" AS
SELECT id >> 16 AS bucket, count(*) AS keys, sum(id & 65535)::bigint AS low_bits_sum
FROM public.:"table" GROUP BY 1;
ALTER VIEW public.:"key_buckets" OWNER TO :"owner";
GRANT SELECT ON public.:"key_buckets" TO :"etl_reader";

-- What a load must know before it trusts its cursor: which cluster this is, whether the
-- table was rewritten (TRUNCATE, VACUUM FULL, CLUSTER give it a new file), and the
-- transaction horizon of now (`snapshot_xmin`: every transaction below it has ended).
CREATE OR REPLACE VIEW public.bionicflow_source_state AS
SELECT c.relname::text AS table_name, pg_relation_filenode(c.oid)::bigint AS filenode,
       pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS snapshot_xmin,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid,
       (SELECT system_identifier FROM pg_control_system())::text AS system_identifier
FROM pg_class AS c
WHERE c.relnamespace = 'public'::regnamespace AND c.relname = :'table';
ALTER VIEW public.bionicflow_source_state OWNER TO :"owner";
GRANT SELECT ON public.bionicflow_source_state TO :"etl_reader";
