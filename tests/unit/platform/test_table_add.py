"""`tables add`'s pure parts and its refusals against the catalogue, in the real engine (chdb)."""

import pytest

from bionicflow.kernel import table_catalogue as catalogue
from bionicflow.platform.table_add import Undo, refuse_taken
from tests.support.chdb_engine import ChdbClient, engine_with_sources
from tests.support.catalogue import ADDED


def test_undo_runs_every_step_in_reverse_and_reports_what_failed():
    done: list[str] = []
    undo = Undo()
    undo.push("first", lambda: done.append("first"))
    undo.push("broken", lambda: 1 / 0)
    undo.push("last", lambda: done.append("last"))
    left = undo.run()
    assert done == ["last", "first"], "a failing undo stopped the others"
    assert len(left) == 1 and left[0].startswith("broken: ") and "division" in left[0]


@pytest.mark.parametrize(("name", "source", "table", "says"), [
    ("users", "shop", "orders", "a table named users is already copied (from crm_db.public.users)"),
    ("lines", "shop", "orders", "a table named lines is already copied"),
    ("again", "shop", "order lines", "shop.sales.order lines is already copied as lines"),
    ("taken", "shop", "orders", "ClickHouse already has a table default.taken"),
    ("Bad", "shop", "orders", "lower-case letters"),
])
def test_a_taken_name_or_table_is_refused(tmp_path, name, source, table, says):
    olap = ChdbClient(engine_with_sources(tmp_path))
    catalogue.write_entry(olap, ADDED)
    olap.command("CREATE TABLE default.taken (x Int8) ENGINE = Memory")
    with pytest.raises(catalogue.CatalogueError, match=says.replace("(", r"\(").replace(")", r"\)")):
        refuse_taken(olap, name, source, "sales", table)
    refuse_taken(olap, "fresh", "shop", "sales", "other")  # free: no error


def test_a_second_add_or_remove_waits_for_the_first_and_says_so(tmp_path):
    import threading
    from types import SimpleNamespace

    from bionicflow.platform.table_add import Roads, one_at_a_time

    said: list[str] = []
    order: list[str] = []
    inside, release = threading.Event(), threading.Event()

    def progress(message: str) -> None:  # the second announces its wait: only then may the first finish
        said.append(message)
        release.set()

    roads = Roads(None, None, SimpleNamespace(state_dir=tmp_path), progress=progress)  # type: ignore[arg-type]

    def first() -> None:
        with one_at_a_time(roads):
            order.append("first in")
            inside.set()
            release.wait(10)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(10)
    with one_at_a_time(roads):
        order.append("second in")
    thread.join(10)
    assert order == ["first in", "first out", "second in"]
    assert said == ["waiting for another `tables add` or `tables remove` to finish"]
