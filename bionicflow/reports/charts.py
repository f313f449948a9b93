"""Bar charts as plain geometry, drawn as inline SVG by the web page (no JavaScript, no network)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


def bars(points: list[tuple[str, float | None]], width: float = 560, height: float = 160,
         top: float | None = None) -> list[Bar]:
    """Bars scaled to ``top`` (default: the largest value), filling `width`; a missing value draws no bar.

    Charts shown side by side pass the same ``top``, so equal heights mean equal values.
    """
    if not points:
        return []
    top = top or max((v for _, v in points if v), default=0) or 1
    slot = width / len(points)
    out = []
    for i, (label, value) in enumerate(points):
        h = (value or 0) / top * height
        out.append(Bar(label, value or 0, x=i * slot + slot * 0.1, y=height - h, width=slot * 0.8, height=h))
    return out


def shared_top(reports, section: str, field: str) -> float | None:
    """The largest ``field`` in ``section`` of any of ``reports`` (None ones skipped): one scale for side-by-side charts."""
    values = [row[field] for r in reports if r for row in r.get(section) or [] if row.get(field) is not None]
    return max(values, default=None)
