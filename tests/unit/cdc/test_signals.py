import json
from datetime import datetime

import pytest

from bionicflow.kernel.tables import TELEMETRY_EVENTS, USERS
from bionicflow.cdc.signals import snapshot_signal
from bionicflow.kernel.sources import LoadError


def test_signal_asks_for_an_incremental_snapshot_of_exactly_the_window():
    signal_id, data = snapshot_signal(USERS, datetime(2026, 1, 1), datetime(2026, 1, 2, 12, 30))
    doc = json.loads(data)
    assert len(signal_id) == 32 and doc["type"] == "incremental"
    assert doc["data-collections"] == ["public.users"]
    assert doc["additional-conditions"] == [{
        "data-collection": "public.users",
        "filter": "\"registered_at\" >= '2026-01-01 00:00:00' AND \"registered_at\" < '2026-01-02 12:30:00'",
    }]
    assert "created_ts" in json.loads(snapshot_signal(TELEMETRY_EVENTS, datetime(2026, 1, 1), datetime(2026, 1, 2))[1])[
        "additional-conditions"][0]["filter"]


def test_inverted_window_is_refused():
    with pytest.raises(LoadError):
        snapshot_signal(USERS, datetime(2026, 1, 2), datetime(2026, 1, 1))
