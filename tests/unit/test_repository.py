"""What the repository holds: code, docs and tests, never a stack's data or secrets."""

import subprocess

import pytest

from bionicflow.kernel.config import project_root


def test_no_stack_state_directory_is_tracked():
    listed = subprocess.run(["git", "ls-files"], cwd=project_root(), capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    state = [path for path in listed.stdout.splitlines() if path.startswith(".bionicflow")]
    assert not state, f"a stack's state (data, logs, secrets) is tracked: {state[:5]} … ({len(state)} files)"
