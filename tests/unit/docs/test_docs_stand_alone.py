"""The README and docs/ stand alone: every file of this repository they name exists, nothing outside it is cited."""

from __future__ import annotations

import re

import pytest

from bionicflow.kernel.config import project_root

ROOT = project_root()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
ROOMS = {p.name for p in (ROOT / "bionicflow").iterdir() if p.is_dir() and not p.name.startswith("__")}
# a path of this repository: a top-level folder (or a room of the package, written without `bionicflow/`),
# then a file with an extension or a folder ending in /
PATH = re.compile(r"(?<![\w./-])((?:[a-z_]+)/[\w./-]*?(?:\.[a-z]{2,4}|/))(?![\w/-])")


def named_paths(text: str) -> set[str]:
    return {p for p in PATH.findall(text) if p.split("/")[0] in TOP | ROOMS}


def _exists(path: str) -> bool:
    return (ROOT / path).exists() or (ROOT / "bionicflow" / path).exists()


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_file_a_document_names_exists(doc):
    missing = sorted(p for p in named_paths(doc.read_text()) if not _exists(p))
    assert not missing, f"{doc.relative_to(ROOT)} names files this repository does not have: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_no_document_cites_a_file_outside_the_repository(doc):
    outside = re.findall(r"\.\./[\w./-]+|DESIGN\.md", doc.read_text())
    assert not outside, f"{doc.relative_to(ROOT)} cites {outside}: a person who clones the project does not have them"


def test_the_path_check_can_fail():
    assert named_paths("see bionicflow/kernel/nothing_here.py and `olap/server.py`, not a/b") == {
        "bionicflow/kernel/nothing_here.py", "olap/server.py"}
    assert not _exists("bionicflow/kernel/nothing_here.py") and _exists("olap/server.py")
