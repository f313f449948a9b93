"""The "CDC vs batch" page's verdicts and history wording, from rows as ops.reconciliation_* store them."""

from datetime import datetime

from bionicflow.reconcile.verdict import (ERROR, LAG, OK, UNKNOWN, Line, duration, explain_health, explain_history,
                                          explain_run, headline, row_level)

STARTED = datetime(2026, 12, 7, 10, 20, 3, 918273)  # stored naive UTC, with microseconds


def rows(source=32700, default=None, debezium=None, table="users", **problems):
    """One table's three sides; ``problems``: `side__field=value` overrides (e.g. default__missing_keys=3)."""
    sides = {"source": source, "default": source if default is None else default,
             "debezium": source if debezium is None else debezium}
    out = []
    for side, count in sides.items():
        row = {"table": table, "side": side, "rows": count, "missing_keys": 0, "extra_keys": 0, "differing_rows": 0,
               "stale_rows": 0}
        row |= {k.split("__")[1]: v for k, v in problems.items() if k.startswith(side + "__")}
        row["match"] = not (row["missing_keys"] or row["extra_keys"] or row["differing_rows"])
        out.append(row)
    return out


def run(run_id="r1", verdict="match", degraded=False, fallback=False, reasons=(), conf=None, started=STARTED):
    return {"run_id": run_id, "started_at": started, "verdict": verdict, "debezium_degraded": int(degraded),
            "fallback_triggered": int(fallback), "details": {"reasons": list(reasons), "etl_default_conf": conf}}


def test_all_sides_matching_is_green_and_dated_in_whole_seconds():
    tables = rows()
    line = explain_run(run(), tables)
    assert line == Line(OK, "all match: both roads hold the source's rows")
    [top] = headline(run(), tables, {"users": 0.8}, {"users": {"age_seconds": 60}}, [], line)
    assert top == Line(OK, "both roads agree with the source as of 2026-12-07 10:20:03 UTC: read either")


def test_a_mismatch_within_the_grace_and_default_behind_its_last_load_is_amber_lag():
    tables = rows(debezium=32697, default=32690, debezium__missing_keys=3, default__missing_keys=10)
    line = explain_run(run(verdict="mismatch"), tables)
    assert line.level == LAG
    assert line.text == ("lag only: 3 missing in debezium.users (within the 10-min grace); 10 missing in "
                         "default.users (written since its last load)")
    [top] = headline(run(verdict="mismatch"), tables, {"users": 4.25, "telemetry_events": None},
                     {"users": {"age_seconds": 720.0}}, [], line)
    assert top == Line(LAG, "debezium is 4.2 s behind, default's last load was 12 min ago: the differences as of "
                            "2026-12-07 10:20:03 UTC are lag; read debezium for the newest data, default as of "
                            "its last load")


def test_rows_default_should_have_had_are_a_mismatch_beyond_lag_being_repaired():
    tables = rows(default=32698, default__missing_keys=2, default__stale_rows=2)
    line = explain_run(run(verdict="match", conf={"mode": "repair", "tables": ["users"]}), tables)
    assert line.level == ERROR
    assert "2 rows of default.users written before its last load missing or different (2 missing): repaired " \
           "(etl_default mode=repair)" in line.text
    [top] = headline(run(), tables, {}, {}, [], line)
    assert top.level == ERROR and top.text.startswith("mismatch beyond lag in default.users as of 2026-12-07 10:20:03")
    assert "repairing" in top.text


def test_a_degraded_debezium_names_its_reasons_and_the_fallback():
    tables = rows(debezium=32697, debezium__missing_keys=3)
    degraded = run(verdict="degraded", degraded=True, fallback=True,
                   reasons=["debezium differs from the source for 12 min (users)"])
    line = explain_run(degraded, tables)
    assert line == Line(ERROR, "3 missing in debezium.users; debezium degraded (debezium differs from the source for "
                               "12 min (users)): fallback ran (etl_default full refresh)")
    [top] = headline(degraded, tables, {}, {}, [], line)
    assert top.level == ERROR and "trust default" in top.text


def test_the_first_start_is_explained_not_left_red():
    """cdc_reconcile's first run came before cdc_bootstrap and the first load: degraded, yet nothing is wrong."""
    early = run("scheduled__1", verdict="degraded", degraded=True, fallback=True,
                reasons=["connector crm-connector is not registered (run cdc_bootstrap)"])
    early_rows = rows(default=0, debezium=0, default__missing_keys=32700, debezium__missing_keys=32700)
    later = run("scheduled__2")
    history = explain_history([later, early], {"scheduled__1": early_rows, "scheduled__2": rows()})
    assert history[0].level == OK
    assert history[1].level == LAG and history[1].text.startswith("first run; default not loaded yet; ")
    health = explain_health({"schema": "debezium", "state": "degraded", "reason": early["details"]["reasons"][0]},
                            history[1])
    assert health.level == LAG and health.text.startswith("first start: connector crm-connector is not registered")


def test_after_the_first_start_an_empty_default_is_an_error_again():
    """Once a run was past the start, a later degraded run is not excused as "first run"."""
    degraded = run("r3", verdict="degraded", degraded=True, reasons=["connector crm-connector is not registered"])
    history = explain_history([degraded, run("r2")], {"r3": rows(debezium=0, debezium__missing_keys=32700),
                                                      "r2": rows()})
    assert history[0].level == ERROR and not history[0].text.startswith("first run")
    health = explain_health({"schema": "debezium", "state": "degraded", "reason": "connector … not registered"},
                            history[0])
    assert health.level == ERROR and "trust default" in health.text


def test_healthy_schema_says_what_healthy_means():
    assert explain_health({"schema": "debezium", "state": "healthy", "reason": ""}, None).level == OK


def test_no_run_yet_and_source_drift_have_their_own_lines():
    lines = headline(None, [], {}, {}, ["crm_db.users has no column nickname any more"])
    assert [line.level for line in lines] == [UNKNOWN, ERROR]
    assert "trigger cdc_reconcile" in lines[0].text and "source schema changed (1 difference)" in lines[1].text


def test_each_side_of_a_table_is_ok_lag_or_error():
    behind = rows(debezium=32697, default=32690, debezium__missing_keys=3, default__missing_keys=10)
    assert [row_level(r, degraded=False) for r in behind] == [OK, LAG, LAG]
    assert [row_level(r, degraded=True) for r in behind] == [OK, LAG, ERROR]
    wrong = rows(default=32698, default__missing_keys=2, default__stale_rows=2)
    assert [row_level(r, degraded=False) for r in wrong] == [OK, ERROR, OK]


def test_extra_keys_in_default_are_deletes_on_their_way():
    line = explain_run(run(verdict="mismatch"), rows(default=32701, default__extra_keys=1))
    assert line == Line(LAG, "lag only: 1 extra in default.users (deleted since its last load)")


def test_a_column_on_its_way_to_the_other_road_is_amber():
    [_, line] = headline(run(), rows(), {}, {}, ["crm_db.users has a column note that `debezium` copies (added by "
                                                 "the CDC road) and `default` does not yet: the next etl_default …"])
    assert line.level == LAG and line.text.endswith("the other road copies it at its next change or load")


def test_durations_read_at_a_glance():
    assert (duration(4.25), duration(119), duration(720), duration(3 * 3600), duration(None)) == (
        "4.2 s", "119.0 s", "12 min", "3.0 h", "an unknown time")
