from datetime import datetime, timedelta, timezone

from bionicflow.kernel.cursors import RELOAD_BY_KEY_LIMIT
from bionicflow.reconcile.compare import SideResult
from bionicflow.reconcile.decide import MISMATCH_GRACE, decide, verdict

NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
RUNNING = {"state": "RUNNING", "tasks": [{"id": 0, "state": "RUNNING"}]}
NAMES = ["crm-connector", "telemetry-connector"]
HEALTHY = {n: RUNNING for n in NAMES}


def side(side="debezium", **problems):
    return SideResult("users", side, rows=10, checksum=1, **problems)


def test_all_healthy_and_matching():
    decision = decide(HEALTHY, NAMES, [side("source"), side("default"), side()], {"users": 0.5}, None, NOW)
    assert not decision.degraded and not decision.fallback and decision.reasons == []
    assert verdict([side()], decision) == "match"


def test_failed_task_is_restarted_and_falls_back():
    connectors = HEALTHY | {"crm-connector": {"state": "RUNNING", "tasks": [{"id": 0, "state": "FAILED"}]}}
    decision = decide(connectors, NAMES, [side()], {}, None, NOW)
    assert decision.degraded and decision.fallback
    assert decision.restart == ["crm-connector"] and "task 0 FAILED" in decision.reasons[0]


def test_missing_connector_and_paused_connector_degrade_without_restart():
    decision = decide({"crm-connector": {"state": "PAUSED", "tasks": []}}, NAMES, [], {}, None, NOW)
    assert decision.degraded and decision.restart == []
    assert any("not registered" in r for r in decision.reasons) and any("PAUSED" in r for r in decision.reasons)


def test_lag_over_threshold_degrades_and_unknown_lag_does_not():
    assert decide(HEALTHY, NAMES, [], {"users": 301.0}, None, NOW, lag_threshold=300).degraded
    assert not decide(HEALTHY, NAMES, [], {"users": None}, None, NOW).degraded


def test_checksum_mismatch_gets_a_grace_period():
    bad = [side(differing_rows=1)]
    first = decide(HEALTHY, NAMES, bad, {}, None, NOW)
    assert not first.degraded and first.mismatch_since == NOW and verdict(bad, first) == "mismatch"
    later = decide(HEALTHY, NAMES, bad, {}, first.mismatch_since, NOW + MISMATCH_GRACE)
    assert later.degraded and later.fallback and "differs from the source" in later.reasons[0]
    healed = decide(HEALTHY, NAMES, [side()], {}, first.mismatch_since, NOW + timedelta(minutes=1))
    assert healed.mismatch_since is None and not healed.degraded


def test_default_side_mismatch_alone_does_not_degrade_cdc():
    decision = decide(HEALTHY, NAMES, [side("default", missing_keys=3), side()], {}, None, NOW)
    assert not decision.degraded and decision.mismatch_since is None


def test_duplicate_keys_are_a_mismatch():
    assert not side(duplicate_keys=1).match


def test_unreachable_connect_degrades_with_that_reason():
    decision = decide(None, NAMES, [side()], {}, None, NOW)
    assert decision.degraded and decision.reasons == ["Kafka Connect is unreachable"] and decision.restart == []


def test_what_etl_default_run_a_decision_asks_for():
    assert decide(HEALTHY, NAMES, [side("default", missing_keys=3), side()], {}, None, NOW).etl_default_conf() is None
    # rows written before default's last load and missing or different: reloaded by key
    few = decide(HEALTHY, NAMES, [side("default", missing_keys=2, differing_rows=1, stale_rows=3), side()], {}, None,
                 NOW)
    assert (few.repair_keys, few.etl_default_conf()) == (3, {"mode": "repair", "tables": ["users"]})
    # past the reload-by-key limit, one full read of the table is cheaper
    many = decide(HEALTHY, NAMES, [side("default", missing_keys=RELOAD_BY_KEY_LIMIT + 1,
                                        stale_rows=RELOAD_BY_KEY_LIMIT + 1), side()], {}, None, NOW)
    assert many.etl_default_conf() == {"mode": "full", "tables": ["users"]}
    # CDC unhealthy: the fallback refreshes every table whole
    down = decide(None, NAMES, [side("default", stale_rows=3), side()], {}, None, NOW)
    assert down.etl_default_conf() == {"mode": "full"}
