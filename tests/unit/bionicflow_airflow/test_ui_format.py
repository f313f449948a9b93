"""How the "CDC vs batch" page writes times and per-schema counts."""

from datetime import datetime, timedelta, timezone

from bionicflow_airflow.ui import counts, num, when


def test_a_stored_utc_time_becomes_a_time_element_in_whole_seconds():
    html = str(when("2026-12-02 00:42:11.448577"))
    assert html == '<time datetime="2026-12-02T00:42:11+00:00">2026-12-02 00:42:11 UTC</time>'


def test_aware_times_are_shown_in_utc_and_nothing_is_empty():
    berlin = datetime(2026, 12, 2, 1, 42, 11, tzinfo=timezone(timedelta(hours=1)))
    assert "2026-12-02 00:42:11 UTC" in str(when(berlin))
    assert str(when(None)) == ""


def test_counts_per_schema_read_as_words_not_a_dict():
    assert counts({"debezium": 1000, "default": 998}) == "debezium 1,000 · default 998"
    assert counts(None) == ""


def test_numbers_read_with_separators_and_fractions_with_three_decimals():
    assert (num(14756), num(14756.0), num(0.81534), num(None)) == ("14,756", "14,756", "0.815", "—")
