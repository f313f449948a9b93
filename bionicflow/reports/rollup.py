"""A user's events, pre-aggregated per (prosthesis type, muscle group, day), rolled up into the report.

ClickHouse answers one small GROUP BY at the finest grain (at most types × groups × days
cells, whatever the event count); the totals and the three breakdowns are sums of cells.
This is cheaper than asking the engine for four grouping sets (measured in docs/benchmarks.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from bionicflow.reports.snapshots import day_of


@dataclass(frozen=True)
class Cell:
    """Aggregates of one (prosthesis_type, muscle_group, day) of one user."""

    prosthesis_type: str
    muscle_group: str
    day: date
    events: int
    amplitude_sum: float
    amplitude_min: float
    amplitude_max: float
    frequency_sum: int
    duration_sum: int


def cells_of(events) -> list[Cell]:
    """Events (snapshots.Event) aggregated into cells, as the report statement's GROUP BY does."""
    cells: dict[tuple, list] = {}
    for e in events:
        key = (e.prosthesis_type, e.muscle_group, day_of(e.created_us))
        acc = cells.get(key)
        if acc is None:
            cells[key] = [1, e.amplitude, e.amplitude, e.amplitude, e.frequency, e.duration]
        else:
            acc[0] += 1
            acc[1] += e.amplitude
            acc[2] = min(acc[2], e.amplitude)
            acc[3] = max(acc[3], e.amplitude)
            acc[4] += e.frequency
            acc[5] += e.duration
    return [Cell(*key, *acc) for key, acc in cells.items()]


def json_number(value) -> float | None:
    """A JSON-safe number: nan (the aggregate of no rows) and ±inf (sums of extreme amplitudes) are null."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


@dataclass
class Stats:
    events: int = 0
    amplitude_sum: float = 0.0
    amplitude_min: float | None = None
    amplitude_max: float | None = None
    frequency_sum: int = 0
    duration_sum: int = 0

    def add(self, cell: Cell) -> Stats:
        self.events += cell.events
        self.amplitude_sum += cell.amplitude_sum
        self.amplitude_min = (cell.amplitude_min if self.amplitude_min is None
                              else min(self.amplitude_min, cell.amplitude_min))
        self.amplitude_max = (cell.amplitude_max if self.amplitude_max is None
                              else max(self.amplitude_max, cell.amplitude_max))
        self.frequency_sum += cell.frequency_sum
        self.duration_sum += cell.duration_sum
        return self

    def average(self, total: float) -> float | None:
        return json_number(total / self.events) if self.events else None

    def breakdown_entry(self) -> dict:
        return {"events": self.events, "avg_amplitude": self.average(self.amplitude_sum),
                "avg_frequency": self.average(self.frequency_sum), "avg_duration": self.average(self.duration_sum)}


def _grouped(cells: list[Cell], label) -> dict:
    groups: dict = {}
    for cell in cells:
        groups.setdefault(label(cell), Stats()).add(cell)
    return dict(sorted(groups.items()))


def roll_up(cells: list[Cell]) -> dict:
    """The report's event part: totals, per prosthesis type, per muscle group, per day."""
    # one order for every path (the engine answers its cells in hash order, a snapshot in event order):
    # floating-point sums of the same cells in another order can differ in the last bit
    cells = sorted(cells, key=lambda c: (c.prosthesis_type, c.muscle_group, c.day))
    total = Stats()
    for cell in cells:
        total.add(cell)
    days = _grouped(cells, lambda c: c.day)
    return {
        "events_total": total.events,
        "active_days": len(days),
        "signal_amplitude": {"avg": total.average(total.amplitude_sum), "min": json_number(total.amplitude_min),
                             "max": json_number(total.amplitude_max)},
        "signal_frequency": {"avg": total.average(total.frequency_sum)},
        "signal_duration": {"avg": total.average(total.duration_sum), "total": total.duration_sum},
        "by_prosthesis_type": [{"prosthesis_type": k, **s.breakdown_entry()}
                               for k, s in _grouped(cells, lambda c: c.prosthesis_type).items()],
        "by_muscle_group": [{"muscle_group": k, **s.breakdown_entry()}
                            for k, s in _grouped(cells, lambda c: c.muscle_group).items()],
        "daily": [{"date": d.isoformat(), "events": s.events, "avg_amplitude": s.average(s.amplitude_sum)}
                  for d, s in days.items()],
    }
