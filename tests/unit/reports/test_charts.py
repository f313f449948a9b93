"""The reports' charts: Vega-Lite specifications, rendered by the real library (vl-convert) where it matters."""

import re

import pytest

from bionicflow.reports import charts


def _report(muscles: dict[str, float], days: int = 3) -> dict:
    return {"by_muscle_group": [{"muscle_group": g, "avg_amplitude": a, "events": 1} for g, a in muscles.items()],
            "daily": [{"date": f"2026-11-{d:02d}", "events": d, "avg_amplitude": d / 10} for d in range(1, days + 1)],
            "by_prosthesis_type": [{"prosthesis_type": "arm", "events": 7}]}


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_both_roads_share_one_plot_and_one_scale_with_a_legend():
    reports = {"default": _report({"forearm_extensors": 0.5}), "debezium": _report({"forearm_extensors": 0.25})}
    spec = dict((cid, s) for cid, _, s in charts.user_report_charts(reports))["muscle"]
    assert [r["schema"] for r in spec["data"]["values"]] == ["default", "debezium"]
    assert spec["encoding"]["color"]["scale"]["domain"] == ["default", "debezium"]  # the legend, one colour per road
    assert "scale" not in spec["encoding"]["y"]  # one y scale for both: equal heights are equal values
    svg = charts.render(spec).decode()
    texts = _texts(svg)
    assert "forearm_extensors" in texts and {"default", "debezium"} <= set(texts)
    assert {"0.5", "0.25"} <= set(texts)  # a value printed on each bar


def test_long_category_names_are_never_cut():
    name = "a_muscle_group_with_a_very_long_name_indeed_" * 2
    spec = charts.grouped_bars([{"schema": "default", "g": name, "v": 1}], category="g", value="v", title="t",
                               category_title="g", value_title="v")
    assert spec["encoding"]["x"]["axis"]["labelLimit"] == 0
    assert name in _texts(charts.render(spec).decode())


def test_values_are_printed_when_they_fit_and_tooltips_always_have_them():
    few = charts.grouped_bars([{"schema": "default", "d": str(i), "v": i} for i in range(8)], category="d", value="v",
                              title="t", category_title="d", value_title="v")
    many = charts.grouped_bars([{"schema": s, "d": str(i), "v": i} for i in range(30) for s in charts.SCHEMA_COLORS],
                               category="d", value="v", title="t", category_title="d", value_title="v")
    assert [layer["mark"]["type"] for layer in few["layer"]] == ["bar", "text"]
    assert [layer["mark"]["type"] for layer in many["layer"]] == ["bar"]
    assert any(t["field"] == "v" for t in many["encoding"]["tooltip"])


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
    days = [t for t in _texts(charts.render(spec).decode()) if t.startswith("2026-")]
    assert days == ["2026-11-01", "2026-11-02"]  # drawn in this order on the axis


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
