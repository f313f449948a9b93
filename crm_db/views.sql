-- Relations the batch road reads from crm_db (docs/airflow.md, "How changes are detected").
-- Idempotent: run as a superuser after init.sql, by `bionicflow up` on every start
-- (embedded) or from /docker-entrypoint-initdb.d (compose; after an upgrade run it by hand:
-- psql -f crm_db/views.sql). Role names come from the environment, as for init.sql.
\set ON_ERROR_STOP on
\getenv crm_user CRM_USER
\getenv etl_reader ETL_READER_USER

-- The 64-bit id of the transaction that wrote a row, from its 32-bit xmin and the next
-- transaction id of the reading snapshot: the latest id at or below next_xid with those low
-- 32 bits. Exact for every row written in the last 2^31 transactions (frozen rows keep
-- their raw xmin since PostgreSQL 9.4; rows older than that may read as recent, which only
-- reloads them). IMMUTABLE and SQL: inlined into the view, no call per row.
CREATE OR REPLACE FUNCTION public.bionicflow_xid64(raw xid, next_xid bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT next_xid - ((next_xid - raw::text::bigint) % 4294967296 + 4294967296) % 4294967296 $$;
ALTER FUNCTION public.bionicflow_xid64(xid, bigint) OWNER TO :"crm_user";

-- The table as batch loads and reconciliation read it, plus `_xid`: the 64-bit id of the
-- transaction that last wrote the row. The load filters `_xid >= cursor`.
CREATE OR REPLACE VIEW public.users_olap AS
WITH s AS MATERIALIZED (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid)  -- once per query
SELECT u.id, u.user_uuid, u.name, u.email, u.age, u.gender, u.country, u.address, u.phone, u.registered_at,
       public.bionicflow_xid64(u.xmin, s.next_xid) AS _xid
FROM public.users AS u CROSS JOIN s;
ALTER VIEW public.users_olap OWNER TO :"crm_user";
GRANT SELECT ON public.users_olap TO :"etl_reader";

-- Keys per bucket of 65,536 ids: count and the sum of the low 16 bits. A load compares
-- them with `default` to find the buckets that hold deleted keys, then compares only
-- those buckets key by key.
CREATE OR REPLACE VIEW public.users_key_buckets AS
SELECT id >> 16 AS bucket, count(*) AS keys, sum(id & 65535)::bigint AS low_bits_sum
FROM public.users GROUP BY 1;
ALTER VIEW public.users_key_buckets OWNER TO :"crm_user";
GRANT SELECT ON public.users_key_buckets TO :"etl_reader";

-- What a load must know before it trusts its cursor: which cluster this is, whether the
-- table was rewritten (TRUNCATE, VACUUM FULL, CLUSTER give it a new file), and the
-- transaction horizon of now (`snapshot_xmin`: every transaction below it has ended).
CREATE OR REPLACE VIEW public.bionicflow_source_state AS
SELECT c.relname::text AS table_name, pg_relation_filenode(c.oid)::bigint AS filenode,
       pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS snapshot_xmin,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid,
       (SELECT system_identifier FROM pg_control_system())::text AS system_identifier
FROM pg_class AS c
WHERE c.oid = 'public.users'::regclass;
ALTER VIEW public.bionicflow_source_state OWNER TO :"crm_user";
GRANT SELECT ON public.bionicflow_source_state TO :"etl_reader";
