"""The reports' charts as Vega-Lite specifications: one chart per measure, both schemas side by side.

Vega-Lite (https://vega.github.io/vega-lite/) draws them: the page renders them in the browser
with the Vega bundle that reports_api serves from the `vl-convert-python` package (no CDN),
and the same specification renders to SVG or PNG on the server (`render`), which is what the
`reports` DAG's stored runs offer for download. Each chart puts `default` and `debezium` in one
plot, grouped bars on one scale with a legend, so equal heights are equal values and a
difference between the roads is seen at a glance. Category names are never cut (no label
limit); values are printed on the bars when there is room and are in every bar's tooltip.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache, partial
from pathlib import Path
from typing import Literal

from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB

SCHEMA_COLORS = {DEFAULT_DB: "#2f6fed", CDC_DB: "#e8710a"}  # the same colour per road on every chart
VEGA_LITE = "https://vega.github.io/schema/vega-lite/v5.json"  # an identifier only: nothing is fetched
FORMAT_LOCALES: dict[str, Literal["en-US", "ru-RU"]] = {"en": "en-US", "ru": "ru-RU"}
VALUES_UP_TO = 16  # more bars than this: values in tooltips only, where printed ones would overlap
STATIC = Path(__file__).parent / "static"
WIDTH = 1040  # the chart's inner width in px; the page scales it down on a narrow screen
ORDER = "order"  # each row's category position: the axis order
PAGE_DATA = "rows"  # the named data set a page's compiled chart reads its rows from

Translate = Callable[[str], str]


def _identity(text: str) -> str:
    return text


def grouped_bars(rows: list[dict], *, category: str, value: str, title: str, category_title: str,
                 value_title: str, digits: int = 0, lang: str = "en", legend_title: str = "schema",
                 ranked: bool = False) -> dict | None:
    """A bar per (category, schema) from ``rows`` (each has ``schema``, ``category`` and ``value``).

    Categories in ascending order (days, names), or as first met in ``rows`` when ``ranked``.
    None when no row has a value: the page says in words that the period is empty.
    """
    rows = [r for r in rows if r.get(value) is not None]
    if not rows:
        return None
    schemas = sorted({r["schema"] for r in rows}, key=list(SCHEMA_COLORS).index)
    categories = list(dict.fromkeys(r[category] for r in rows))
    if not ranked:
        categories.sort(key=str)  # a day only one road has sits in its place, not at the end
    fmt = f",.{digits}~f"  # trailing zeros dropped: 0.5, not 0.500
    # The order rides in the rows, not in the spec: a chart's shape then does not depend on
    # its categories, and the page's compiled chart is reused for every period (page_specs).
    position = {c: i for i, c in enumerate(categories)}
    rows = [{**r, ORDER: position[r[category]]} for r in rows]
    x = {"field": category, "type": "ordinal", "title": category_title, "sort": {"field": ORDER, "op": "min"},
         "axis": {"labelLimit": 0, "labelAngle": 0 if len(categories) <= 6 else -35, "labelOverlap": "greedy"}}
    encoding = {
        "x": x,
        "xOffset": {"field": "schema", "sort": schemas},
        "y": {"field": value, "type": "quantitative", "title": value_title, "axis": {"format": fmt}},
        "color": {"field": "schema", "title": legend_title, "sort": schemas,
                  "scale": {"domain": schemas, "range": [SCHEMA_COLORS[s] for s in schemas]},
                  "legend": {"orient": "top", "direction": "horizontal"}},
        "tooltip": [{"field": "schema"}, {"field": category, "title": category_title},
                    {"field": value, "title": value_title, "format": fmt}],
    }
    layers = [{"name": "bars", "mark": {"type": "bar"}}]  # names: the SVG groups' classes (bars_marks, values_marks)
    if len(categories) * len(schemas) <= VALUES_UP_TO:
        layers.append({"name": "values", "mark": {"type": "text", "dy": -6, "fontSize": 10, "baseline": "bottom"},
                       "encoding": {"text": {"field": value, "format": fmt}, "color": {"value": "#1d2330"}}})
    return {
        "$schema": VEGA_LITE,
        "title": {"text": title, "anchor": "start", "fontSize": 14},
        "width": WIDTH, "height": 200,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "data": {"values": rows},
        "encoding": encoding,
        "layer": layers,
        "config": {"locale": format_locale(lang), "axis": {"labelFontSize": 11, "titleFontSize": 11}},
    }


def _rows(reports: Mapping[str, dict | None], section: str, category: str, value: str) -> list[dict]:
    """Rows of ``section`` from every schema's report, each tagged with its schema."""
    return [{"schema": schema, category: row[category], value: row.get(value)}
            for schema, report in reports.items() if report
            for row in report.get(section) or []]


def user_report_charts(reports: Mapping[str, dict | None], _: Translate = _identity,
                       lang: str = "en") -> list[tuple[str, str, dict | None]]:
    """The user report's charts: (id, title, spec or None when the period has no events)."""
    specs = [
        ("daily", _("Daily events"), "daily", "date", "events", _("day"), _("events"), 0),
        ("amplitude", _("Daily average amplitude"), "daily", "date", "avg_amplitude", _("day"), _("avg amplitude"), 3),
        ("muscle", _("Average amplitude by muscle group"), "by_muscle_group", "muscle_group", "avg_amplitude",
         _("muscle group"), _("avg amplitude"), 3),
        ("prosthesis", _("Events by prosthesis type"), "by_prosthesis_type", "prosthesis_type", "events",
         _("prosthesis type"), _("events"), 0),
    ]
    bars = partial(grouped_bars, lang=lang, legend_title=_("schema"))
    return [(cid, title, bars(_rows(reports, section, cat, val), category=cat, value=val, title=title,
                              category_title=cat_title, value_title=val_title, digits=digits))
            for cid, title, section, cat, val, cat_title, val_title, digits in specs]


def _busiest_countries(reports: Mapping[str, dict | None], top: int) -> list:
    """The ``top`` countries by events in either schema's overview, busiest first (one list for both sides)."""
    totals: dict = {}
    for report in reports.values():
        for row in (report or {}).get("by_country") or []:
            totals[row["country"]] = max(totals.get(row["country"], 0), row["events"])
    return sorted(totals, key=lambda c: (-totals[c], str(c)))[:top]


def overview_charts(reports: Mapping[str, dict | None], _: Translate = _identity, lang: str = "en",
                    countries: int = 12) -> list[tuple[str, str, dict | None]]:
    """The overview's charts: events per country (the busiest), per prosthesis type, per muscle group, top users."""
    busiest = _busiest_countries(reports, countries)
    rank = {country: i for i, country in enumerate(busiest)}
    country_rows = sorted((r for r in _rows(reports, "by_country", "country", "events") if r["country"] in rank),
                          key=lambda r: rank[r["country"]])
    for row in country_rows:
        row["country"] = row["country"] or "—"  # users without a country are a bar of their own
    users = [{"schema": s, "user": u.get("name") or u["user_uuid"][:8], "events": u["events"]}
             for s, r in reports.items() if r for u in r.get("top_users") or []]
    charts = [
        ("country", _("Events by country (the %(n)s busiest)") % {"n": len(busiest)}, country_rows, "country",
         _("country")),
        ("prosthesis", _("Events by prosthesis type"),
         _rows(reports, "by_prosthesis_type", "prosthesis_type", "events"), "prosthesis_type", _("prosthesis type")),
        ("muscle", _("Events by muscle group"), _rows(reports, "by_muscle_group", "muscle_group", "events"),
         "muscle_group", _("muscle group")),
        ("top-users", _("Top users"), users, "user", _("user")),
    ]
    bars = partial(grouped_bars, value="events", value_title=_("events"), lang=lang, legend_title=_("schema"),
                   ranked=True)
    return [(cid, title, bars(rows, category=category, title=title, category_title=category_title))
            for cid, title, rows, category, category_title in charts]


@lru_cache(maxsize=len(FORMAT_LOCALES))
def format_locale(lang: str) -> dict:
    """Vega's number and time formats for ``lang`` (decimal comma and thin-space thousands in Russian)."""
    import vl_convert

    tag = FORMAT_LOCALES.get(lang, "en-US")
    return {"number": vl_convert.get_format_locale(tag), "time": vl_convert.get_time_format_locale(tag)}


def render(spec: dict, fmt: str = "svg") -> bytes:
    """The chart drawn on the server, as SVG or PNG (a file for a stored run; no browser needed)."""
    import vl_convert

    if fmt == "png":
        return vl_convert.vegalite_to_png(spec, scale=2)
    if fmt == "svg":
        return vl_convert.vegalite_to_svg(spec).encode()
    raise ValueError(f"unknown chart format {fmt!r}: use svg or png")


@lru_cache(maxsize=1)
def vega_bundle() -> bytes:
    """Vega, Vega-Lite and vega-embed as one script, built from the installed `vl-convert-python` package."""
    import vl_convert

    # the package's stub omits the default of `snippet` (at run time: snippet=None, the default bundle)
    return vl_convert.javascript_bundle().encode()  # type: ignore[call-arg]


@lru_cache(maxsize=1)
def vega_bundle_gzip() -> bytes:
    """The bundle gzip-compressed once (~900 kB becomes ~270 kB on the wire)."""
    import gzip

    return gzip.compress(vega_bundle(), compresslevel=9)


@lru_cache(maxsize=1)
def vega_version() -> str:
    """A version string for the bundle's URL, so browsers may cache it for good."""
    import vl_convert

    return f"{vl_convert.get_vega_embed_version()}-{vl_convert.get_vega_version()}"


def script(name: str, accept_encoding: str = "") -> tuple[bytes, dict[str, str]]:
    """A page's chart script by file name (`vega-<version>.js` or `charts.js`): its bytes and HTTP headers.

    The bundle's name carries its version, so browsers keep it for good; ours is revalidated.
    """
    if name == "charts.js":
        return (STATIC / name).read_bytes(), {"Content-Type": "text/javascript", "Cache-Control": "no-cache"}
    if name != f"vega-{vega_version()}.js":
        raise LookupError(f"no chart script {name!r} here (this server has vega-{vega_version()}.js): reload the page")
    headers = {"Content-Type": "text/javascript", "Cache-Control": "public, max-age=31536000, immutable",
               "Vary": "Accept-Encoding"}
    if "gzip" in accept_encoding:
        return vega_bundle_gzip(), {**headers, "Content-Encoding": "gzip"}
    return vega_bundle(), headers


def by_id(charts: Iterable[tuple[str, str, dict | None]]) -> dict:
    """The charts' Vega-Lite specifications by id (None where the period is empty)."""
    return {cid: spec for cid, _, spec in charts}


def page_specs(charts: Iterable[tuple[str, str, dict | None]]) -> dict:
    """The charts by id as a page's script draws them: compiled to Vega (None where the period is empty)."""
    return {cid: page_spec(spec) for cid, _, spec in charts}


def page_spec(spec: dict | None) -> dict | None:
    """``spec`` compiled to Vega, as wide as its card, with its rows.

    Vega-Lite's compiler runs here once per chart shape (titles, axes, bar count, language) and
    the rows go in per request, so the reader's browser only draws: measured, the four charts of
    a report are drawn ~60 ms sooner than when the browser compiled them (docs/benchmarks.md).
    """
    if spec is None:
        return None
    shape = {**spec, "width": "container", "data": {"name": PAGE_DATA}}
    compiled = json.loads(_compiled(json.dumps(shape, sort_keys=True)))
    _page_data(compiled)["values"] = spec["data"]["values"]
    return compiled


def page_rows(spec: dict) -> list[dict]:
    """The rows a page's compiled chart draws."""
    return _page_data(spec)["values"]


def _page_data(compiled: dict) -> dict:
    """The compiled chart's data set its rows go into."""
    return next(data for data in compiled["data"] if data["name"] == PAGE_DATA)


@lru_cache(maxsize=256)
def _compiled(shape: str) -> str:
    """A chart shape (Vega-Lite, no rows) compiled to Vega, as JSON text (each caller gets its own copy)."""
    import vl_convert

    return json.dumps(vl_convert.vegalite_to_vega(json.loads(shape)))
