"""Fixtures of the reports' unit tests: a real ClickHouse engine (chdb, in-process) holding both schemas, built by
the product's own DDL (tests/support/report_data.py), and reports_api over it.

The same business rows go to `default` (as a batch load) and `debezium` (as CDC rows, with a
superseded version and a deleted key), so FINAL decides what the reports see.
"""

import shutil
from pathlib import Path

import chdb
import pytest
from fastapi.testclient import TestClient

from bionicflow.kernel.config import Settings
from bionicflow.reports import ChdbReader, auth
from reports_api import deps
from reports_api.main import app
from tests.support.report_data import Dataset, load, make_dataset


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return make_dataset()


@pytest.fixture(scope="session")
def loaded_data_path(tmp_path_factory, dataset) -> Path:
    """A data path holding `dataset` as `load` leaves it, closed: each module opens a copy of its own."""
    path = tmp_path_factory.mktemp("reports-chdb-loaded") / "data"
    conn = chdb.connect(str(path))
    try:
        load(conn, dataset)
    finally:
        conn.close()
    return path


@pytest.fixture(scope="module")  # chdb allows one open data path per process: close it before other modules run
def olap(tmp_path_factory, loaded_data_path):
    copy = tmp_path_factory.mktemp("reports-chdb") / "data"
    shutil.copytree(loaded_data_path, copy, symlinks=True)  # ClickHouse links a table's files relatively
    conn = chdb.connect(str(copy))
    yield ChdbReader(conn)
    conn.close()


@pytest.fixture(scope="session")
def dev_issuer_key_pem() -> bytes:
    """One development issuer key for the state directories of the tests that share it (~70 ms of CPU to make)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(autouse=True)
def no_failed_logins_yet():
    """reports_api counts failed log-ins per process (per account and address): each test starts with none."""
    from reports_api import deps

    deps.login_throttle.clear()


@pytest.fixture
def settings(tmp_path, dev_issuer_key_pem):
    """A state directory of the test's own, its development issuer's key in place as the issuer leaves it."""
    made = Settings(state_dir=tmp_path)
    path = auth._dev_key_path(made)
    path.parent.mkdir(mode=0o700)
    path.write_bytes(dev_issuer_key_pem)
    path.chmod(0o600)
    return made


@pytest.fixture
def client(settings, olap, monkeypatch):
    monkeypatch.setattr(deps, "reader", lambda: olap)
    app.dependency_overrides[deps.settings] = lambda: settings
    yield TestClient(app)
    app.dependency_overrides.clear()
