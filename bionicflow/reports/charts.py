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


def bars(points: list[tuple[str, float | None]], width: float = 560, height: float = 160) -> list[Bar]:
    """Bars scaled to the largest value, filling `width`; a missing value draws no bar."""
    if not points:
        return []
    top = max((v for _, v in points if v), default=0) or 1
    slot = width / len(points)
    out = []
    for i, (label, value) in enumerate(points):
        h = (value or 0) / top * height
        out.append(Bar(label, value or 0, x=i * slot + slot * 0.1, y=height - h, width=slot * 0.8, height=h))
    return out
