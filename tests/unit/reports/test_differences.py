from bionicflow.reports.differences import compare_reports, flatten, same


def test_flatten_names_list_items_by_their_label():
    flat = flatten({"schema": "x", "events_total": 3, "signal_amplitude": {"avg": 1.5},
                    "daily": [{"date": "2026-11-01", "events": 2}], "freshness": {"lag_seconds": 1}})
    assert flat == {"events_total": 3, "signal_amplitude.avg": 1.5, "daily[2026-11-01].date": "2026-11-01",
                    "daily[2026-11-01].events": 2}


def test_float_sums_in_another_order_are_equal_but_real_changes_are_not():
    assert same(0.1 + 0.2 + 0.3, 0.3 + 0.2 + 0.1)
    assert not same(1.0, 1.0001)
    assert not same(None, 0.0) and same(None, None)


def test_differences_field_by_field():
    left = {"schema": "default", "events_total": 3, "daily": [{"date": "d1", "events": 3}], "freshness": {"lag_seconds": 1}}
    right = {"schema": "debezium", "events_total": 4, "daily": [{"date": "d1", "events": 3}, {"date": "d2", "events": 1}],
             "freshness": {"lag_seconds": 9}}
    result = compare_reports({"default": left, "debezium": right})
    assert not result["identical"]
    assert [d["field"] for d in result["differences"]] == ["daily[d2].date", "daily[d2].events", "events_total"]
    assert result["differences"][2] == {"field": "events_total", "default": 3, "debezium": 4}
    assert result["freshness"] == {"default": {"lag_seconds": 1}, "debezium": {"lag_seconds": 9}}


def test_a_report_missing_on_one_side_is_a_difference():
    result = compare_reports({"default": {"events_total": 1}, "debezium": None})
    assert not result["identical"]
    assert result["differences"][0]["note"] == "not found in debezium"


def test_differences_come_with_how_far_behind_default_is():
    behind = {"events_total": 3, "freshness": {"lag_seconds": 1, "load_age_seconds": 1800.0}}
    current = {"events_total": 4, "freshness": {"lag_seconds": 1}}
    assert compare_reports({"default": behind, "debezium": current})["default_behind_seconds"] == 1800.0
    same_data = compare_reports({"default": behind | {"events_total": 4}, "debezium": current})
    assert same_data["identical"] and same_data["default_behind_seconds"] is None


def test_a_user_only_debezium_has_yet_is_lag_not_a_mismatch():
    report = {"events_total": 0, "freshness": {"lag_seconds": 1.0}}
    new_user = compare_reports({"default": None, "debezium": report})
    assert new_user["only_in_debezium"] is True and not new_user["identical"]
    gone_from_debezium = compare_reports({"default": report, "debezium": None})
    assert gone_from_debezium["only_in_debezium"] is False  # that one is no lag: the page says it in red
