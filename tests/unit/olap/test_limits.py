"""A read-only request's settings: the server's limits, lowered but never lifted by the client."""

import pytest

from bionicflow.olap.limits import ReaderLimits, reader_settings
from bionicflow.olap.protocol import ClickHouseError

LIMITS = ReaderLimits(max_execution_time=60, max_memory_usage=1000, max_result_rows=50, max_result_bytes=500)


def test_limits_apply_when_the_client_asks_for_nothing():
    assert reader_settings({}, LIMITS) == {"max_execution_time": "60", "max_memory_usage": "1000",
                                            "max_result_rows": "50", "max_result_bytes": "500"}


def test_a_client_may_lower_a_limit_and_tune_output():
    applied = reader_settings({"max_execution_time": "10", "output_format_json_quote_64bit_integers": "0",
                               "max_threads": "2", "cast_string_to_dynamic_use_inference": "1"}, LIMITS)
    assert applied["max_execution_time"] == "10" and applied["max_result_rows"] == "50"
    assert applied["output_format_json_quote_64bit_integers"] == "0" and applied["max_threads"] == "2"


@pytest.mark.parametrize("name, value", [
    ("max_execution_time", "0"), ("max_execution_time", "61"), ("max_memory_usage", "1001"),
    ("max_result_rows", "0"), ("max_result_bytes", "abc"), ("result_overflow_mode", "any"),
])
def test_a_limit_cannot_be_lifted(name, value):
    with pytest.raises(ClickHouseError) as refused:
        reader_settings({name: value}, LIMITS)
    assert (refused.value.code, refused.value.http_status) == (452, 500)


@pytest.mark.parametrize("name, value", [
    ("readonly", "0"), ("additional_table_filters", "{}"), ("allow_introspection_functions", "1"),
    ("max_memory_usage_for_user", "0"), ("use_query_cache", "1"), ("max_query_size", "1000000000"),
    ("format_schema", "/etc/passwd:Message"), ("format_template_row", "/etc/passwd"), ("output_format_schema", "/tmp/x"),
])
def test_settings_that_widen_access_or_name_server_files_are_read_only(name, value):
    with pytest.raises(ClickHouseError) as refused:
        reader_settings({name: value}, LIMITS)
    assert (refused.value.code, refused.value.name, refused.value.http_status) == (164, "READONLY", 500)


@pytest.mark.parametrize("name, value", [
    ("format_avro_schema_registry_url", "http://127.0.0.1:1/x"), ("function_sleep_max_microseconds_per_block", "0"),
    ("input_format_record_errors_file_path", "/tmp/x"), ("additional_result_filter", "1"),
    ("http_max_tries", "100"), ("max_concurrent_queries_for_user", "1000"), ("a_setting_the_engine_adds_later", "1"),
    ("output_format_schema", "/tmp/x"), ("format_display_secrets_in_show_and_select", "1"),
])
def test_only_listed_settings_may_be_tuned(name, value):
    with pytest.raises(ClickHouseError) as refused:
        reader_settings({name: value}, LIMITS)
    assert (refused.value.code, refused.value.http_status) == (164, 500)


@pytest.mark.parametrize("name, value", [
    ("max_execution_time", "inf"), ("max_execution_time", "1e400"), ("max_execution_time", "nan"),
    ("max_threads", "100000"), ("max_rows_to_read", "-1"), ("format_csv_delimiter", "x" * 2000),
])
def test_values_out_of_range_are_constraint_violations(name, value):
    with pytest.raises(ClickHouseError) as refused:
        reader_settings({name: value}, LIMITS)
    assert (refused.value.code, refused.value.http_status) == (452, 500)


def test_readonly_asked_by_a_reader_is_accepted_but_never_applied():
    assert "readonly" not in reader_settings({"readonly": "1"}, LIMITS)
    assert reader_settings({"http_headers_progress_interval_ms": "1"}, LIMITS)["http_headers_progress_interval_ms"] == "100"
