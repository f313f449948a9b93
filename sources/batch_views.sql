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

-- The change journal: which keys changed, and in which transaction, so that a load reads
-- the changed rows by key instead of scanning the table twice (rows by `_xid`, keys by
-- bitmap). Per table `<table>_changes` holds one row per key written since the last load
-- (its newest writing transaction's 64-bit id), filled by three statement-level triggers
-- (insert, update, delete) from their transition tables: one INSERT per statement, however
-- many rows it wrote. They fire ALWAYS, also under session_replication_role = replica.
-- `bionicflow_journals.complete_from`: the journal holds every change of every transaction
-- that ended after the one with this id; a load trusts it only from a cursor at or above
-- it (so never across the triggers' creation, an ALTER TABLE or a trim), and reads the
-- table otherwise. docs/airflow.md, "How changes are detected".
CREATE TABLE IF NOT EXISTS public.bionicflow_journals (
    table_name text PRIMARY KEY,
    complete_from bigint NOT NULL
);
ALTER TABLE public.bionicflow_journals OWNER TO :"owner";

-- A table's one-column primary key (NULL when it has none or a wider one).
CREATE OR REPLACE FUNCTION public.bionicflow_primary_key(source regclass) RETURNS name
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.attname FROM pg_index AS i
    JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = source AND i.indisprimary AND i.indnatts = 1
$$;

CREATE OR REPLACE FUNCTION public.bionicflow_make_journal(source regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    table_name text;
    owner_name text;
    key_name text;
    journal text;
    note text;
    op text;
    transition text;
    trigger_name text;
    changed boolean := false;
BEGIN
    SELECT c.relname, c.relowner::regrole::text INTO table_name, owner_name FROM pg_class AS c WHERE c.oid = source;
    key_name := public.bionicflow_primary_key(source);
    IF key_name IS NULL THEN
        RAISE EXCEPTION 'bionicflow: % has no one-column primary key; the change journal needs one', source;
    END IF;
    journal := table_name || '_changes';
    note := 'bionicflow_note_' || journal;
    EXECUTE format('CREATE TABLE IF NOT EXISTS public.%I (id bigint PRIMARY KEY, xid bigint NOT NULL, '
                   'gone boolean NOT NULL DEFAULT false)', journal);
    IF NOT EXISTS (SELECT FROM pg_attribute AS a WHERE a.attrelid = format('public.%I', journal)::regclass
                   AND a.attname = 'gone' AND NOT a.attisdropped) THEN
        -- a journal of the first version (2026-12-02) did not mark deletes: trusted from now on only
        EXECUTE format('ALTER TABLE public.%I ADD COLUMN gone boolean NOT NULL DEFAULT false', journal);
        changed := true;
    END IF;
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON public.%I (xid)', journal || '_xid', journal);
    EXECUTE format('ALTER TABLE public.%I OWNER TO %s', journal, owner_name);
    -- Static SQL per table (planned once per session). `gone`: the statement deleted the
    -- key (an UPDATE that changed a key deletes the old one), so a load finds the deleted keys
    -- without looking each up in the table. A key already noted the same way by this
    -- transaction is left alone: no dead row per statement.
    EXECUTE format($fn$
CREATE OR REPLACE FUNCTION public.%1$I() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.%2$I AS j (id, xid, gone)
        SELECT n.%3$I, pg_current_xact_id()::text::bigint, false FROM new_rows AS n
        ON CONFLICT (id) DO UPDATE SET xid = excluded.xid, gone = excluded.gone
        WHERE j.xid <> excluded.xid OR j.gone <> excluded.gone;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.%2$I AS j (id, xid, gone)
        SELECT o.%3$I, pg_current_xact_id()::text::bigint, true FROM old_rows AS o
        ON CONFLICT (id) DO UPDATE SET xid = excluded.xid, gone = excluded.gone
        WHERE j.xid <> excluded.xid OR j.gone <> excluded.gone;
    ELSE
        INSERT INTO public.%2$I AS j (id, xid, gone)
        SELECT k.id, pg_current_xact_id()::text::bigint, k.gone
        FROM (SELECT n.%3$I AS id, false AS gone FROM new_rows AS n
              UNION ALL
              SELECT o.%3$I, true FROM old_rows AS o WHERE NOT EXISTS (SELECT FROM new_rows AS n WHERE n.%3$I = o.%3$I)) AS k
        ON CONFLICT (id) DO UPDATE SET xid = excluded.xid, gone = excluded.gone
        WHERE j.xid <> excluded.xid OR j.gone <> excluded.gone;
    END IF;
    RETURN NULL;
END
$body$ $fn$, note, journal, key_name);
    EXECUTE format('ALTER FUNCTION public.%I() OWNER TO %s', note, owner_name);
    EXECUTE format('REVOKE ALL ON FUNCTION public.%I() FROM PUBLIC', note);
    FOR op, transition IN VALUES ('insert', 'NEW TABLE AS new_rows'),
                                 ('update', 'OLD TABLE AS old_rows NEW TABLE AS new_rows'),
                                 ('delete', 'OLD TABLE AS old_rows') LOOP
        trigger_name := 'bionicflow_journal_' || op;
        IF NOT EXISTS (SELECT 1 FROM pg_trigger AS t WHERE t.tgrelid = source AND t.tgname = trigger_name) THEN
            EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION public.%I()',
                           trigger_name, upper(op), source, transition, note);
            changed := true;
        END IF;
        IF (SELECT t.tgenabled FROM pg_trigger AS t WHERE t.tgrelid = source AND t.tgname = trigger_name) <> 'A' THEN
            EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', source, trigger_name);
            changed := true;
        END IF;
    END LOOP;
    -- Complete for the transactions that end after this one (a writer still running waits
    -- for the triggers' lock and then fires them).
    INSERT INTO public.bionicflow_journals AS b (table_name, complete_from)
    VALUES (table_name, pg_current_xact_id()::text::bigint + 1)
    ON CONFLICT ON CONSTRAINT bionicflow_journals_pkey DO UPDATE SET complete_from = excluded.complete_from WHERE changed;
END
$$;
REVOKE ALL ON FUNCTION public.bionicflow_make_journal(regclass) FROM PUBLIC;

-- A load that stored its cursor forgets the journal's keys below it (what it has read);
-- the journal is complete from there on. Callable by the ETL reader: the worst it can do
-- is make the next load read the table instead of the journal.
CREATE OR REPLACE FUNCTION public.bionicflow_forget_changes(source_table text, below bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    forgotten bigint;
BEGIN
    IF to_regclass(format('public.%I', source_table || '_changes')) IS NULL THEN
        RAISE EXCEPTION 'bionicflow: % has no change journal', source_table;
    END IF;
    UPDATE public.bionicflow_journals SET complete_from = greatest(complete_from, below)
    WHERE table_name = source_table;
    -- a key a transaction still open has written is locked: skipped (forgotten by a later load), never waited
    -- for, or the load and every writer of a key this DELETE already took would wait for that transaction
    EXECUTE format('DELETE FROM public.%1$I WHERE ctid = ANY (ARRAY(SELECT ctid FROM public.%1$I WHERE xid < $1 '
                   'FOR UPDATE SKIP LOCKED))', source_table || '_changes') USING below;
    GET DIAGNOSTICS forgotten = ROW_COUNT;
    RETURN forgotten;
END
$$;
ALTER FUNCTION public.bionicflow_forget_changes(text, bigint) OWNER TO :"owner";
REVOKE ALL ON FUNCTION public.bionicflow_forget_changes(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.bionicflow_forget_changes(text, bigint) TO :"etl_reader";

-- The newest transaction the table's change journal names (NULL: no journal or an empty one):
-- what a load compares with its cursor to know, exactly, whether anything was written since
-- (a backward scan of the journal's xid index). Callable by the ETL reader through the view.
CREATE OR REPLACE FUNCTION public.bionicflow_journal_newest(source_table text) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    newest bigint;
BEGIN
    IF to_regclass(format('public.%I', source_table || '_changes')) IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT max(xid) FROM public.%I', source_table || '_changes') INTO newest;
    RETURN newest;
END
$$;
ALTER FUNCTION public.bionicflow_journal_newest(text) OWNER TO :"owner";
REVOKE ALL ON FUNCTION public.bionicflow_journal_newest(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.bionicflow_journal_newest(text) TO :"etl_reader";

-- What a load must know before it trusts its cursor: which cluster this is, whether the
-- table was rewritten (TRUNCATE, VACUUM FULL, CLUSTER give it a new file), and the
-- transaction horizon of now (`snapshot_xmin`: every transaction below it has ended).
-- And whether anything was written at all: where the change journal covers the cursor, its
-- newest transaction says so exactly; elsewhere the cluster's latest commit and PostgreSQL's
-- cumulative counters of inserted,
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
       pg_stat_get_tuples_updated(c.oid) + pg_stat_get_tuples_deleted(c.oid) AS rows_removed,
       CASE WHEN (SELECT count(*) FROM pg_trigger AS t WHERE t.tgrelid = c.oid AND t.tgenabled = 'A'
                  AND t.tgname IN ('bionicflow_journal_insert', 'bionicflow_journal_update', 'bionicflow_journal_delete')) = 3
            THEN (SELECT j.complete_from FROM public.bionicflow_journals AS j WHERE j.table_name = c.relname)
       END AS journal_from,
       public.bionicflow_journal_newest(c.relname) AS journal_newest,
       -- the 64-bit id of the cluster's latest commit (track_commit_timestamp, on in this project's
       -- postgresql.conf): below a load's cursor, nothing at all was committed since it was taken
       CASE WHEN current_setting('track_commit_timestamp')::boolean THEN
           (SELECT public.bionicflow_age_origin() - age(l.xid) FROM pg_last_committed_xact() AS l
            WHERE l.xid::text::bigint >= 3)
       END AS last_commit_xid
FROM pg_class AS c
WHERE c.relnamespace = 'public'::regnamespace AND c.relname = :'table';
ALTER VIEW public.bionicflow_source_state OWNER TO :"owner";
GRANT SELECT ON public.bionicflow_source_state TO :"etl_reader";

-- The columns a batch load can read from each `<table>_olap` view (below), with the type of
-- the table column each reads: how a load finds a column added to a source since bionicflow's
-- table definition was written (the ETL role sees no information_schema rows for columns it
-- has no privilege on; the catalogue is readable by all).
DROP VIEW IF EXISTS public.bionicflow_columns;
CREATE OR REPLACE VIEW public.bionicflow_olap_columns AS
SELECT t.relname::text AS table_name, v.attname::text AS column_name, v.attnum::int AS position,
       format_type(a.atttypid, a.atttypmod) AS type_name, ty.typtype = 'e' AS is_enum
FROM pg_class AS vc
JOIN pg_class AS t ON t.relnamespace = vc.relnamespace AND t.relname = left(vc.relname, -5) AND t.relkind IN ('r', 'p')
JOIN pg_attribute AS v ON v.attrelid = vc.oid AND v.attnum > 0
JOIN pg_attribute AS a ON a.attrelid = t.oid
     AND a.attnum = substring(col_description(vc.oid, v.attnum) FROM '^attnum ([0-9]+)$')::int
JOIN pg_type AS ty ON ty.oid = a.atttypid
WHERE vc.relnamespace = 'public'::regnamespace AND vc.relkind = 'v' AND vc.relname LIKE '%\_olap';
ALTER VIEW public.bionicflow_olap_columns OWNER TO :"owner";
GRANT SELECT ON public.bionicflow_olap_columns TO :"etl_reader";

-- `<table>_olap`: the table as batch loads read it — every column, floats as text (ClickHouse's
-- PostgreSQL reader rejects subnormal doubles its own text parser accepts; PostgreSQL prints
-- the shortest text that reads back as the same double), plus `_xid`, the 64-bit id of the
-- transaction that last wrote the row (loads filter `_xid >= cursor`). Made from the table's
-- columns as they are now, so the event triggers below make it again around every ALTER
-- TABLE. Each view column's comment names the table column it reads (`attnum N`): a renamed
-- column keeps its old name in the view, so loads go on (`bionicflow status` reports the
-- rename). The view keeps its owner (the table's) and its readers (and those of
-- `<table>_key_masks`, for when it was dropped). Runs as its owner, a superuser (views.sql
-- creates it), because the triggers call it for whoever altered the table.
CREATE OR REPLACE FUNCTION public.bionicflow_make_olap_view(source regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    table_name text;
    owner_name text;
    view_name text;
    view_oid oid;
    select_list text;
    comments text;
    readers text[];
    reader text;
    journal regclass;
    key_name text;
    views text[];
BEGIN
    SELECT c.relname, c.relowner::regrole::text INTO table_name, owner_name FROM pg_class AS c WHERE c.oid = source;
    view_name := table_name || '_olap';
    view_oid := to_regclass(format('public.%I', view_name));
    CREATE TEMP TABLE IF NOT EXISTS bionicflow_view_names (relid oid, attnum int, name name);
    INSERT INTO bionicflow_view_names
    SELECT source, substring(col_description(view_oid, v.attnum) FROM '^attnum ([0-9]+)$')::int, v.attname
    FROM pg_attribute AS v WHERE v.attrelid = view_oid AND v.attnum > 0
      AND col_description(view_oid, v.attnum) ~ '^attnum [0-9]+$';
    SELECT string_agg(format(CASE WHEN a.atttypid IN ('float4'::regtype, 'float8'::regtype)
                                  THEN 't.%I::text AS %I' ELSE 't.%I AS %I' END,
                             a.attname, coalesce(n.name, a.attname)), ', ' ORDER BY a.attnum),
           string_agg(format('COMMENT ON COLUMN public.%I.%I IS %L', view_name, coalesce(n.name, a.attname),
                             'attnum ' || a.attnum), '; ')
    INTO select_list, comments
    FROM pg_attribute AS a
    LEFT JOIN (SELECT DISTINCT ON (s.attnum) s.attnum, s.name FROM bionicflow_view_names AS s
               WHERE s.relid = source) AS n ON n.attnum = a.attnum
    WHERE a.attrelid = source AND a.attnum > 0 AND NOT a.attisdropped;
    DELETE FROM bionicflow_view_names WHERE relid = source;
    SELECT array_agg(DISTINCT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE x.grantee::regrole::text END)
    INTO readers
    FROM pg_class AS v CROSS JOIN LATERAL aclexplode(v.relacl) AS x
    WHERE v.oid IN (view_oid, to_regclass(format('public.%I', table_name || '_key_masks')))
      AND x.privilege_type = 'SELECT' AND x.grantee <> v.relowner;
    EXECUTE format('DROP VIEW IF EXISTS public.%I', view_name);
    EXECUTE format('CREATE VIEW public.%I AS WITH s AS MATERIALIZED (SELECT public.bionicflow_age_origin() AS origin) '
                   'SELECT %s, s.origin - age(t.xmin) AS _xid FROM %s AS t CROSS JOIN s', view_name, select_list, source);
    EXECUTE comments;
    journal := to_regclass(format('public.%I', table_name || '_changes'));
    IF journal IS NOT NULL THEN
        -- The rows of the keys the journal names, and the keys it names as deleted; loads
        -- filter both on `_change_xid >= cursor` (an index range scan).
        key_name := public.bionicflow_primary_key(source);
        EXECUTE format('DROP VIEW IF EXISTS public.%I, public.%I', table_name || '_olap_changes', table_name || '_gone');
        EXECUTE format('CREATE VIEW public.%I AS WITH s AS MATERIALIZED (SELECT public.bionicflow_age_origin() AS origin) '
                       'SELECT %s, s.origin - age(t.xmin) AS _xid, j.xid AS _change_xid '
                       'FROM %s AS j JOIN %s AS t ON t.%I = j.id CROSS JOIN s WHERE NOT j.gone',
                       table_name || '_olap_changes', select_list, journal, source, key_name);
        EXECUTE format('CREATE VIEW public.%I AS SELECT j.id, j.xid AS _change_xid FROM %s AS j WHERE j.gone',
                       table_name || '_gone', journal);
        views := ARRAY[view_name, table_name || '_olap_changes', table_name || '_gone'];
    ELSE
        views := ARRAY[view_name];
    END IF;
    FOREACH view_name IN ARRAY views LOOP
        EXECUTE format('ALTER VIEW public.%I OWNER TO %s', view_name, owner_name);
        FOREACH reader IN ARRAY coalesce(readers, '{}') LOOP
            EXECUTE format('GRANT SELECT ON public.%I TO %s', view_name, reader);
        END LOOP;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION public.bionicflow_make_olap_view(regclass) FROM PUBLIC;

-- Around every ALTER TABLE in this database, in its own transaction: before it, each
-- `<table>_olap` view is put aside (its column names kept), so the view never blocks the
-- source's own change (DROP COLUMN, ALTER COLUMN TYPE); after it, the view is made again from
-- the table as it is now: a column added appears at once, the next batch load sees it without
-- a restart; a column dropped is gone from the view (the next load then fails naming it, as
-- `bionicflow status` does). When the ALTER fails, its transaction takes the drop back.
CREATE OR REPLACE FUNCTION public.bionicflow_olap_views_aside() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    view_oid oid;
    source oid;
    table_name text;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS bionicflow_view_names (relid oid, attnum int, name name);
    FOR view_oid, source IN
        SELECT v.oid, t.oid FROM pg_class AS v JOIN pg_class AS t
          ON t.relname = left(v.relname, -5) AND t.relnamespace = v.relnamespace AND t.relkind IN ('r', 'p')
        WHERE v.relnamespace = 'public'::regnamespace AND v.relkind = 'v' AND v.relname LIKE '%\_olap' LOOP
        INSERT INTO bionicflow_view_names
        SELECT source, substring(col_description(view_oid, v.attnum) FROM '^attnum ([0-9]+)$')::int, v.attname
        FROM pg_attribute AS v WHERE v.attrelid = view_oid AND v.attnum > 0
          AND col_description(view_oid, v.attnum) ~ '^attnum [0-9]+$';
        SELECT c.relname INTO table_name FROM pg_class AS c WHERE c.oid = source;
        EXECUTE format('DROP VIEW IF EXISTS public.%I, public.%I', table_name || '_olap_changes', table_name || '_gone');
        EXECUTE format('DROP VIEW %s', view_oid::regclass);
    END LOOP;
END
$$;
CREATE OR REPLACE FUNCTION public.bionicflow_olap_views_back() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    source oid;
BEGIN
    -- An ALTER TABLE of a journaled table may have disabled and enabled the journal's
    -- triggers: no load trusts the journal across it (the first after it reads the table).
    UPDATE public.bionicflow_journals AS j SET complete_from = greatest(j.complete_from, pg_current_xact_id()::text::bigint + 1)
    WHERE j.table_name IN (SELECT c.relname FROM pg_event_trigger_ddl_commands() AS d JOIN pg_class AS c ON c.oid = d.objid
                           WHERE d.classid = 'pg_class'::regclass AND c.relnamespace = 'public'::regnamespace);
    FOR source IN
        SELECT t.oid FROM pg_class AS t
        WHERE t.relnamespace = 'public'::regnamespace AND t.relkind IN ('r', 'p')
          AND to_regclass(format('public.%I', t.relname || '_key_masks')) IS NOT NULL
          AND to_regclass(format('public.%I', t.relname || '_olap')) IS NULL LOOP
        PERFORM public.bionicflow_make_olap_view(source::regclass);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION public.bionicflow_olap_views_aside() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.bionicflow_olap_views_back() FROM PUBLIC;
DROP EVENT TRIGGER IF EXISTS bionicflow_follow_new_columns;
DROP FUNCTION IF EXISTS public.bionicflow_follow_new_columns();
DROP EVENT TRIGGER IF EXISTS bionicflow_olap_views_aside;
DROP EVENT TRIGGER IF EXISTS bionicflow_olap_views_back;
CREATE EVENT TRIGGER bionicflow_olap_views_aside ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION public.bionicflow_olap_views_aside();
CREATE EVENT TRIGGER bionicflow_olap_views_back ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION public.bionicflow_olap_views_back();
