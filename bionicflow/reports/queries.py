"""The reports' SQL. The schema is bound as an Identifier, every value as a typed parameter.

Both schemas hold replacing tables, so every read of current rows says FINAL (in `debezium`
FINAL also hides deleted keys). A period is [start, end) on `created_ts`.
"""

# Reports keep one clock, UTC, whatever the server's or the session's zone: the bounds are read as
# UTC and a day is a UTC day (`toDate32`, which holds every date a DateTime64 can: 1900-2299;
# `toDate` wraps outside 1970-2149). The platform's clients also set `session_timezone` UTC
# (bionicflow/kernel/olap.py); these say it again for any other client of these statements.
EVENTS_IN_PERIOD = """created_ts >= {start:DateTime64(6, 'UTC')} AND created_ts < {end:DateTime64(6, 'UTC')}"""
EVENT_DAY = "toDate32(created_ts, 'UTC')"

# The whole user report in one statement: a `part` 0 row with the profile (none for an unknown
# user) and one `part` 1 row per (prosthesis type, muscle group, day) of the user's events, which
# `rollup.roll_up` sums into totals and breakdowns. Both tables are sorted by user_uuid's hash
# first, and the index serves `user_uuid = x` through it, so this reads a few granules, not the
# table (tests/unit/reports/test_queries.py).
# PREWHERE on user_uuid is safe under FINAL because the sorting key holds user_uuid's hash:
# every version of a row has the same user_uuid (an update of it moves the row, see
# cdc.schema.moved_rows_condition), so the filter never hides a newer version. (A filter on
# another column, such as created_ts, must stay in WHERE: it runs after FINAL.) Measured: -30%.
# Two branches of a UNION ALL rather than the profile as a scalar subquery of the grouping: with
# USER_REPORT_SETTINGS, 18% less of the OLAP server's CPU per report (docs/benchmarks.md).
USER_REPORT = f"""
SELECT 0 AS part, name, country, age, gender,
       '' AS prosthesis_type, '' AS muscle_group, toDate32(0) AS day, toUInt64(0) AS events,
       0. AS amplitude_sum, 0. AS amplitude_min, 0. AS amplitude_max, toInt64(0) AS frequency_sum,
       toInt64(0) AS duration_sum
FROM {{schema:Identifier}}.users FINAL
PREWHERE user_uuid = {{user_uuid:String}}
LIMIT 1
UNION ALL
SELECT 1, NULL, NULL, NULL, NULL,
       prosthesis_type, muscle_group, {EVENT_DAY}, count(),
       sum(signal_amplitude), min(signal_amplitude), max(signal_amplitude), sum(signal_frequency),
       sum(signal_duration)
FROM {{schema:Identifier}}.telemetry_events FINAL
PREWHERE user_uuid = {{user_uuid:String}}
WHERE {EVENTS_IN_PERIOD}
GROUP BY prosthesis_type, muscle_group, {EVENT_DAY}"""

# A report reads a few granules: splitting it over the cores only adds work when many reports
# run at once (the common case of a busy reports_api). Measured with 8 clients: -18% CPU.
USER_REPORT_SETTINGS = {"max_threads": 1}

# Freshness of the schema as a whole: the newest event it has received (deleted or not).
FRESHNESS = """
SELECT max(saved_ts), count() > 0, dateDiff('millisecond', max(saved_ts), now64(6)) / 1000.0
FROM {schema:Identifier}.telemetry_events"""

# `default` only: its last batch load per table (bionicflow/kernel/cursors.py writes it); the
# older of the two tables is how far behind the source `default` may be.
BATCH_LOADS_EXIST = "SELECT count() FROM system.tables WHERE database = {schema:String} AND name = 'batch_loads'"
LAST_BATCH_LOAD = """
SELECT min(loaded_at), dateDiff('millisecond', min(loaded_at), now64(6)) / 1000.0, count()
FROM {schema:Identifier}.batch_loads FINAL"""

OVERVIEW_TOTALS = f"""
SELECT count(), uniqExact(user_uuid), avg(signal_amplitude), avg(signal_frequency), avg(signal_duration)
FROM {{schema:Identifier}}.telemetry_events FINAL
WHERE {EVENTS_IN_PERIOD}"""

USERS_TOTAL = "SELECT count() FROM {schema:Identifier}.users FINAL"

OVERVIEW_BREAKDOWN = f"""
SELECT
    multiIf(grouping(prosthesis_type) = 0, 'prosthesis_type', 'muscle_group') AS level,
    prosthesis_type, muscle_group, count(), uniqExact(user_uuid), avg(signal_amplitude)
FROM {{schema:Identifier}}.telemetry_events FINAL
WHERE {EVENTS_IN_PERIOD}
GROUP BY GROUPING SETS ((prosthesis_type), (muscle_group))"""

# Events whose user is not (or no longer) in `users` count under country 'unknown'.
OVERVIEW_BY_COUNTRY = f"""
SELECT ifNull(u.country, 'unknown') AS country, count() AS events, uniqExact(e.user_uuid) AS users
FROM (SELECT user_uuid FROM {{schema:Identifier}}.telemetry_events FINAL WHERE {EVENTS_IN_PERIOD}) AS e
LEFT JOIN (SELECT user_uuid, country FROM {{schema:Identifier}}.users FINAL) AS u ON e.user_uuid = u.user_uuid
GROUP BY country
ORDER BY events DESC, country"""

OVERVIEW_TOP_USERS = f"""
SELECT e.user_uuid, u.name, e.events
FROM (
    SELECT user_uuid, count() AS events
    FROM {{schema:Identifier}}.telemetry_events FINAL
    WHERE {EVENTS_IN_PERIOD}
    GROUP BY user_uuid
    ORDER BY events DESC, user_uuid
    LIMIT {{top:UInt16}}
) AS e
LEFT JOIN (SELECT user_uuid, name FROM {{schema:Identifier}}.users FINAL) AS u ON e.user_uuid = u.user_uuid
ORDER BY e.events DESC, e.user_uuid"""
