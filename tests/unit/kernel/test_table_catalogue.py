"""The table catalogue in `ops.tables`, in the real engine (chdb): entries, names, the brief's two."""

import pytest

from bionicflow.kernel import table_catalogue as catalogue
from tests.support.catalogue import ADDED
from tests.support.chdb_engine import ChdbClient, engine_with_sources


@pytest.mark.parametrize("entry", [ADDED, *catalogue.brief_entries()], ids=lambda e: e.name)
def test_an_entry_reads_back_as_it_was_written(entry):
    again = catalogue.entry_from_row(entry.name, entry.source, catalogue.entry_definition(entry), entry.state)
    assert again == entry
    assert again.built_in == (entry.name in ("users", "telemetry_events"))


@pytest.mark.parametrize(("name", "says"), [
    ("Orders", "lower-case letters"), ("1st", "lower-case letters"), ("a-b", "lower-case letters"),
    ("x" * 49, "at most 48"), ("dead_letters", "uses for its own tables"), ("orders_kafka", "uses for its own"),
    ("orders_mv", "uses for its own"),
])
def test_a_name_that_cannot_name_a_copy_is_refused_with_the_fix(name, says):
    with pytest.raises(catalogue.CatalogueError, match=says):
        catalogue.check_name(name)


def test_entries_are_added_listed_and_removed_and_the_brief_two_are_always_there(tmp_path):
    olap = ChdbClient(engine_with_sources(tmp_path))
    olap.command("DROP TABLE IF EXISTS ops.tables")
    assert [e.name for e in catalogue.list_entries(olap)] == ["users", "telemetry_events"], "no table: the brief's"

    catalogue.seed_brief(olap)
    catalogue.seed_brief(olap)  # idempotent: written once
    assert int(olap.command("SELECT count() FROM ops.tables")) == 2
    catalogue.write_entry(olap, ADDED)
    assert catalogue.find_entry(olap, "lines") == ADDED
    assert [t.name for t in catalogue.roads_tables(olap)] == ["users", "telemetry_events", "lines"]
    with pytest.raises(catalogue.CatalogueError, match="tables remove"):
        catalogue.refuse_source_in_use(olap, "shop")

    catalogue.write_entry(olap, ADDED, removed=True)
    assert [e.name for e in catalogue.list_entries(olap)] == ["users", "telemetry_events"]
    catalogue.refuse_source_in_use(olap, "shop")
    with pytest.raises(catalogue.CatalogueError, match="no table named lines"):
        catalogue.find_entry(olap, "lines")


def test_a_reshaped_entry_keeps_the_catalogues_state_and_a_removed_one_stays_removed(tmp_path):
    """A road's copy of an entry may be older than `tables add`'s last step, or than a `tables remove`."""
    from dataclasses import replace

    olap = ChdbClient(engine_with_sources(tmp_path))
    olap.command("DROP TABLE IF EXISTS ops.tables")
    ready = replace(ADDED, state=catalogue.READY)
    catalogue.write_entry(olap, ready)
    narrower = replace(ADDED, described=replace(ADDED.described, columns=ADDED.described.columns[:3]))
    catalogue.write_reshaped(olap, narrower)  # the consumer's copy still says "adding"
    found = catalogue.find_entry(olap, "lines")
    assert found.state == catalogue.READY and found.described == narrower.described

    catalogue.write_entry(olap, ready, removed=True)
    catalogue.write_reshaped(olap, narrower)
    assert "lines" not in [e.name for e in catalogue.list_entries(olap)]
