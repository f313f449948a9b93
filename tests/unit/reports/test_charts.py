"""The reports' charts: Vega-Lite specifications, rendered by the real library (vl-convert) where it matters."""

import json
import re
from xml.etree import ElementTree

import pytest

from bionicflow.reports import charts


def _report(muscles: dict[str, float], days: int = 3) -> dict:
    return {"by_muscle_group": [{"muscle_group": g, "avg_amplitude": a, "events": 1} for g, a in muscles.items()],
            "daily": [{"date": f"2026-11-{d:02d}", "events": d, "avg_amplitude": d / 10} for d in range(1, days + 1)],
            "by_prosthesis_type": [{"prosthesis_type": "arm", "events": 7}]}


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


SVG = "{http://www.w3.org/2000/svg}"


def _axis_labels(spec: dict, axis: str) -> list[str]:
    """The labels a reader sees on ``axis`` ("X" or "Y") of the chart drawn on the server (hidden ones: opacity 0)."""
    root = ElementTree.fromstring(charts.render(spec))
    group = next(g for g in root.iter(f"{SVG}g") if (g.get("aria-label") or "").startswith(f"{axis}-axis"))
    labels = next(g for g in group.iter(f"{SVG}g") if "role-axis-label" in (g.get("class") or ""))
    return [t.text or "" for t in labels.iter(f"{SVG}text") if t.get("opacity") != "0"]


def _overview(users: list[str], countries: dict | None = None) -> dict:
    return {"by_country": [{"country": c, "events": n} for c, n in (countries or {"DE": 5}).items()],
            "top_users": [{"user_uuid": f"0189{i:04x}-0000-7000-8000-{i:012x}", "name": n, "events": 90 - i}
                          for i, n in enumerate(users)],
            "by_prosthesis_type": [{"prosthesis_type": "arm", "events": 7}],
            "by_muscle_group": [{"muscle_group": "forearm_flexors", "events": 7}]}


NAMES = [f"Maximiliane Alexandra von Habsburg-Lothringen {i}" for i in range(17)] + ["Юлия Петрова-Водкина", "Bo"]


def test_both_roads_share_one_plot_and_one_scale_with_a_legend():
    reports = {"default": _report({"forearm_extensors": 0.5}), "debezium": _report({"forearm_extensors": 0.25})}
    spec = dict((cid, s) for cid, _, s in charts.user_report_charts(reports))["muscle"]
    assert [r["schema"] for r in spec["data"]["values"]] == ["default", "debezium"]
    assert spec["encoding"]["color"]["scale"]["domain"] == ["default", "debezium"]  # the legend, one colour per road
    # one value scale for both (no resolve, no per-road domain): equal lengths are equal values
    assert "resolve" not in spec and "scale" not in spec["encoding"]["x"]
    svg = charts.render(spec).decode()
    texts = _texts(svg)
    assert "forearm extensors" in texts and {"default", "debezium"} <= set(texts)  # the data's word, as read
    assert {"0.5", "0.25"} <= set(texts)  # a value printed on each bar


def test_long_category_names_are_never_cut():
    name = "a_muscle_group_with_a_very_long_name_indeed_" * 2
    spec = charts.grouped_bars([{"schema": "default", "g": name, "v": 1}], category="g", value="v", title="t",
                               category_title="g", value_title="v")
    assert spec["encoding"]["y"]["axis"]["labelLimit"] == 0  # names down the y axis: horizontal bars
    assert _axis_labels(spec, "Y") == [name]


def test_every_top_user_name_is_on_the_drawn_axis_whole():
    """19 long names (the overview has up to 20): none dropped for overlap, none cut, none shortened."""
    reports = {"default": _overview(NAMES), "debezium": _overview(NAMES)}
    specs = {cid: s for cid, _, s in charts.overview_charts(reports)}
    for cid, spec in specs.items():
        assert spec["encoding"]["y"]["axis"]["labelOverlap"] is False, cid  # categories are never thinned out
    assert _axis_labels(specs["top-users"], "Y") == NAMES  # busiest first, every one whole
    assert "…" not in "".join(_texts(charts.render(specs["top-users"]).decode()))


def test_two_top_users_of_one_name_are_two_bars_told_apart():
    report = _overview(["Ann Lee", "Ann Lee", None, "Bo"])
    report["top_users"].append({"user_uuid": "01890002-0000-7000-8000-00000000ffff", "name": None, "events": 1})
    spec = {cid: s for cid, _, s in charts.overview_charts({"default": report})}["top-users"]
    uuids = [u["user_uuid"] for u in report["top_users"]]
    assert _axis_labels(spec, "Y") == [f"Ann Lee ({uuids[0]})", f"Ann Lee ({uuids[1]})", uuids[2], "Bo", uuids[4]]


def test_count_axes_have_integer_ticks_and_averages_keep_their_decimals():
    """A user with a few events: 0, 1, 2, 3 on the axis, never 0, 0.5, 1 printed as "0, 1, 1"."""
    specs = {cid: s for cid, _, s in charts.user_report_charts({"default": _report({"biceps": 0.5}),
                                                                "debezium": _report({"biceps": 0.25})})}
    assert specs["daily"]["encoding"]["y"]["axis"]["tickMinStep"] == 1
    daily = _axis_labels(specs["daily"], "Y")
    assert daily == ["0", "1", "2", "3"], daily
    prosthesis = _axis_labels(specs["prosthesis"], "X")  # horizontal: the count runs along x
    assert len(set(prosthesis)) == len(prosthesis) and all(t.isdigit() for t in prosthesis), prosthesis
    amplitude = _axis_labels(specs["amplitude"], "Y")
    assert "tickMinStep" not in specs["amplitude"]["encoding"]["y"]["axis"] and any("." in t for t in amplitude)


def test_values_are_printed_when_they_fit_and_tooltips_always_have_them():
    def bars(n, horizontal=False):
        return charts.grouped_bars([{"schema": s, "d": str(i), "v": i} for i in range(n) for s in charts.SCHEMA_COLORS],
                                   category="d", value="v", title="t", category_title="d", value_title="v",
                                   horizontal=horizontal)
    assert [layer["mark"]["type"] for layer in bars(8)["layer"]] == ["bar", "text"]
    assert [layer["mark"]["type"] for layer in bars(30)["layer"]] == ["bar"]  # 60 columns: values would overlap
    assert [layer["mark"]["type"] for layer in bars(30, horizontal=True)["layer"]][:2] == ["bar", "text"]  # a row each
    assert any(t["field"] == "v" for t in bars(30)["encoding"]["tooltip"])


def test_an_empty_period_has_no_chart_to_draw():
    empty = {"by_muscle_group": [], "daily": [], "by_prosthesis_type": []}
    assert all(spec is None for _, _, spec in charts.user_report_charts({"default": None, "debezium": empty}))
    assert charts.grouped_bars([{"schema": "default", "g": "x", "v": None}], category="g", value="v", title="t",
                               category_title="g", value_title="v") is None


def test_russian_charts_have_russian_titles_and_a_decimal_comma():
    ru = {"Average amplitude by muscle group": "Средняя амплитуда по группам мышц", "schema": "схема"}
    specs = {cid: s for cid, _, s in charts.user_report_charts({"default": _report({"arm": 1234.5})}, ru.get, "ru")
             if s}
    texts = _texts(charts.render(specs["muscle"]).decode())
    assert "Средняя амплитуда по группам мышц" in texts and "схема" in texts
    assert "1\u00a0234,5" in texts, texts  # Russian grouping and decimal comma on the bar


def test_the_overview_shows_the_same_busiest_countries_for_both_roads():
    def overview(counts):
        return {"by_country": [{"country": c, "events": n} for c, n in counts.items()],
                "top_users": [{"user_uuid": "0" * 32, "name": None, "events": 3}]}
    reports = {"default": overview({"DE": 10, "FR": 5, None: 1}), "debezium": overview({"DE": 10, "FR": 6, "IT": 2})}
    specs = {cid: s for cid, _, s in charts.overview_charts(reports, countries=2)}
    rows = specs["country"]["data"]["values"]
    assert [(r["schema"], r["country"]) for r in rows] == [("default", "DE"), ("debezium", "DE"),
                                                          ("default", "FR"), ("debezium", "FR")]
    assert specs["top-users"]["data"]["values"][0]["user"] == "00000000"  # a user without a name: the uuid's start
    assert specs["muscle"] is None and specs["prosthesis"] is None


def test_data_categories_are_named_in_the_pages_language_and_unknown_ones_as_they_are():
    report = {"by_muscle_group": [{"muscle_group": g, "avg_amplitude": 0.5} for g in ("forearm_flexors", "new_one")],
              "by_prosthesis_type": [{"prosthesis_type": "knee", "events": 2}]}
    specs = {cid: s for cid, _, s in charts.user_report_charts({"default": report}, lang="ru") if s}
    assert _axis_labels(specs["muscle"], "Y") == ["сгибатели предплечья", "new_one"]
    assert _axis_labels(specs["prosthesis"], "Y") == ["колено"]
    assert [r["muscle_group"] for r in specs["muscle"]["data"]["values"]] == ["сгибатели предплечья", "new_one"]


def test_users_without_a_country_are_one_bar_named_and_explained():
    """'' (no country in CRM), NULL and the query's 'unknown' (user not in CRM) are one bar, in the page's language."""
    ru = {"no country": "страна не указана",
          "“no country”: events of users with no country in the CRM, or no longer in it": "«страна не указана»: …"}
    reports = {"default": _overview(["A"], {"": 9000, "unknown": 300, "DE": 50}),
               "debezium": _overview(["A"], {None: 9100, "DE": 50})}
    spec = {cid: s for cid, _, s in charts.overview_charts(reports, lambda t: ru.get(t, t), "ru")}["country"]
    rows = [(r["schema"], r["country"], r["events"]) for r in spec["data"]["values"]]
    assert rows == [("default", "страна не указана", 9300), ("debezium", "страна не указана", 9100),
                    ("default", "DE", 50), ("debezium", "DE", 50)]
    assert spec["title"]["subtitle"] == "«страна не указана»: …"  # the note says what the bar is
    assert _axis_labels(spec, "Y") == ["страна не указана", "DE"]
    plain = {cid: s for cid, _, s in charts.overview_charts({"default": _overview(["A"])})}["country"]
    assert "subtitle" not in plain["title"]  # no such bar, no note


def test_day_labels_follow_the_locale_and_keep_the_order_of_the_dates():
    days = ("2026-12-01", "2026-11-30", "2026-12-10")  # as a report might list them: the chart orders them
    daily = {"daily": [{"date": d, "events": 1, "avg_amplitude": 0.5} for d in days]}
    for lang, expected in (("en", ["30 Nov", "1 Dec", "10 Dec"]), ("ru", ["30 нояб.", "1 дек.", "10 дек."])):
        spec = dict((cid, s) for cid, _, s in charts.user_report_charts({"default": daily}, lang=lang))["daily"]
        assert _axis_labels(spec, "X") == expected
    years = {"daily": [{"date": d, "events": 1} for d in ("2026-12-31", "2027-01-01")]}
    spec = dict((cid, s) for cid, _, s in charts.user_report_charts({"default": years}, lang="en"))["daily"]
    assert _axis_labels(spec, "X") == ["31 Dec 2026", "1 Jan 2027"]  # a period across new year names the year


def test_a_chart_shape_does_not_depend_on_how_many_names_it_has():
    """Horizontal charts grow with their names inside Vega (a height per bar): one compilation for any count."""
    few = {cid: s for cid, _, s in charts.overview_charts({"default": _overview(NAMES[:2])})}
    many = {cid: s for cid, _, s in charts.overview_charts({"default": _overview(NAMES)})}
    charts._compiled.cache_clear()
    shapes = [json.dumps({k: v for k, v in charts.page_spec(spec).items() if k != "data"}, sort_keys=True)
              for spec in (few["top-users"], many["top-users"])]
    assert charts._compiled.cache_info().misses == 1 and shapes[0] == shapes[1]


def test_png_for_stored_runs_and_a_clear_error_for_other_formats():
    spec = charts.grouped_bars([{"schema": "default", "g": "x", "v": 1}], category="g", value="v", title="t",
                               category_title="g", value_title="v")
    assert charts.render(spec, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="svg or png"):
        charts.render(spec, "gif")


def test_days_are_in_order_even_when_only_one_road_has_a_day():
    late = {"daily": [{"date": "2026-11-02", "events": 1}]}
    early = {"daily": [{"date": "2026-11-01", "events": 1}, {"date": "2026-11-02", "events": 1}]}
    spec = dict((cid, s) for cid, _, s in charts.user_report_charts({"default": late, "debezium": early}))["daily"]
    assert _axis_labels(spec, "X") == ["1 Nov", "2 Nov"]  # drawn in this order on the axis


def test_a_page_gets_the_chart_compiled_to_vega_with_its_rows_and_reuses_the_compilation():
    first = dict((cid, s) for cid, _, s in charts.user_report_charts({"default": _report({"biceps": 0.5})}))
    other = dict((cid, s) for cid, _, s in charts.user_report_charts({"default": _report({"triceps": 0.7})}))
    charts._compiled.cache_clear()
    page = charts.page_specs(("muscle", "", spec) for spec in (first["muscle"],))["muscle"]
    assert page["$schema"].startswith("https://vega.github.io/schema/vega/")  # Vega, not Vega-Lite
    assert [r["muscle_group"] for r in charts.page_rows(page)] == ["biceps"]
    again = charts.page_spec(other["muscle"])  # same shape, other rows: no second compilation
    assert charts._compiled.cache_info().misses == 1 and charts._compiled.cache_info().hits == 1
    assert [r["muscle_group"] for r in charts.page_rows(again)] == ["triceps"]
    assert [r["muscle_group"] for r in charts.page_rows(page)] == ["biceps"]  # each page its own copy
    assert charts.page_spec(None) is None  # an empty period stays empty


def test_the_daily_events_chart_has_every_day_of_the_period_with_0_where_none_happened():
    from bionicflow.reports import Period

    period = Period.parse("2026-12-01", "2026-12-06")
    reports = {"default": {"daily": [{"date": "2026-12-02", "events": 3, "avg_amplitude": 1.0}]},
               "debezium": {"daily": [{"date": "2026-12-02", "events": 3, "avg_amplitude": 1.0},
                                      {"date": "2026-12-05", "events": 1, "avg_amplitude": 2.0}]}}
    drawn = {cid: spec for cid, _, spec in charts.user_report_charts(reports, days=period.days())}
    daily = {(r["schema"], r["date"]): r["events"] for r in drawn["daily"]["data"]["values"]}
    assert {d for _, d in daily} == {f"{n} Dec" for n in range(1, 7)}  # the 6th too: a date `to` is its whole day
    assert daily[("default", "5 Dec")] == 0 and daily[("debezium", "5 Dec")] == 1
    assert len(daily) == 12  # each day once per schema
    amplitude = {r["date"] for r in drawn["amplitude"]["data"]["values"]}
    assert amplitude == {"2 Dec", "5 Dec"}  # no average where there was no event


def test_a_period_names_the_days_it_touches():
    from bionicflow.reports import Period

    assert Period.parse("2026-12-01T12:00:00Z", "2026-12-03T00:00:00Z").days() == ["2026-12-01", "2026-12-02"]
    assert Period.parse("2026-12-01", "2026-12-01").days() == ["2026-12-01"]


def test_an_empty_category_value_gets_a_visible_label():
    assert charts.category_text("muscle_group", "", "ru") == charts.category_text("muscle_group", None, "en") == "—"
    assert charts.category_text("muscle_group", "biceps", "ru") == "бицепс"
