"""roll_up against statistics computed directly from the raw events the cells summarise."""

from __future__ import annotations

import math
import random
import statistics
from datetime import date, timedelta

from bionicflow.reports.rollup import Cell, roll_up


def _events(n: int, seed: int = 7) -> list[tuple]:
    rnd = random.Random(seed)
    return [(rnd.choice(["arm", "leg"]), rnd.choice(["biceps", "calf", "forearm"]),
             date(2026, 1, 1) + timedelta(days=rnd.randrange(5)), rnd.uniform(-5, 50), rnd.randrange(1, 300),
             rnd.randrange(1, 9000)) for _ in range(n)]


def _cells(events: list[tuple]) -> list[Cell]:
    """What the engine's GROUP BY returns for these events."""
    groups: dict = {}
    for ptype, muscle, day, amp, freq, dur in events:
        groups.setdefault((ptype, muscle, day), []).append((amp, freq, dur))
    return [Cell(p, m, d, len(v), sum(a for a, _, _ in v), min(a for a, _, _ in v), max(a for a, _, _ in v),
                 sum(f for _, f, _ in v), sum(x for _, _, x in v)) for (p, m, d), v in groups.items()]


def close(a, b) -> bool:
    return math.isclose(a, b, rel_tol=1e-9)


def test_totals_and_breakdowns_equal_the_raw_statistics():
    events = _events(500)
    report = roll_up(_cells(events))
    amps = [e[3] for e in events]
    assert report["events_total"] == 500
    assert report["active_days"] == len({e[2] for e in events})
    assert close(report["signal_amplitude"]["avg"], statistics.fmean(amps))
    assert (report["signal_amplitude"]["min"], report["signal_amplitude"]["max"]) == (min(amps), max(amps))
    assert close(report["signal_frequency"]["avg"], statistics.fmean(e[4] for e in events))
    assert report["signal_duration"]["total"] == sum(e[5] for e in events)
    legs = [e for e in events if e[0] == "leg"]
    [leg] = [b for b in report["by_prosthesis_type"] if b["prosthesis_type"] == "leg"]
    assert leg["events"] == len(legs) and close(leg["avg_duration"], statistics.fmean(e[5] for e in legs))
    assert [b["muscle_group"] for b in report["by_muscle_group"]] == ["biceps", "calf", "forearm"]
    first_day = min(e[2] for e in events)
    assert report["daily"][0] == {"date": first_day.isoformat(), "events": sum(e[2] == first_day for e in events),
                                  "avg_amplitude": report["daily"][0]["avg_amplitude"]}
    assert close(report["daily"][0]["avg_amplitude"], statistics.fmean(e[3] for e in events if e[2] == first_day))


def test_no_events_means_zero_counts_and_no_statistics():
    report = roll_up([])
    assert (report["events_total"], report["active_days"], report["signal_duration"]["total"]) == (0, 0, 0)
    assert report["signal_amplitude"] == {"avg": None, "min": None, "max": None}
    assert report["by_prosthesis_type"] == report["by_muscle_group"] == report["daily"] == []


def test_an_overflowing_sum_is_null_not_infinity():
    huge = 1.7976931348623157e308
    report = roll_up([Cell("arm", "x", date(2026, 1, 1), 2, math.inf, huge, huge, 2, 2)])
    assert report["signal_amplitude"] == {"avg": None, "min": huge, "max": huge}
