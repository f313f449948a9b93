"""Sources by URL: what a user may type, what is refused, where the password comes from."""

import re

import pytest

from bionicflow.kernel.config import Settings
from bionicflow.kernel.source_registry import SourceAddress, SourceError, parse_url, source_password


def test_a_url_without_password_becomes_an_address():
    source = parse_url("shop", "postgresql://app%40ro@db.internal:6432/shop")
    assert source == SourceAddress("shop", "db.internal", 6432, "shop", "app@ro")
    assert source.url == "postgresql://app%40ro@db.internal:6432/shop"  # takes back what it shows
    assert parse_url("shop", source.url) == source
    assert parse_url("v6", "postgresql://app@[::1]:5432/shop").url == "postgresql://app@[::1]:5432/shop"
    assert parse_url("shop", "postgres://app@db/shop").port == 5432


def test_a_password_in_the_url_is_refused_and_the_message_says_where_it_goes():
    with pytest.raises(SourceError) as refused:
        parse_url("shop", "postgresql://app:hunter2@db:5432/shop")
    message = str(refused.value)
    assert "hunter2" not in message
    assert "BIONICFLOW_SOURCE_SHOP_PASSWORD" in message and "source_shop_password" in message


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://app:hunter2@db/shop", "not a PostgreSQL URL"),
    ("postgresql://db:5432/shop", "lacks USER"),
    ("postgresql://app@db:5432/", "lacks DATABASE"),
    ("postgresql://app@db:99999/shop", "out of range"),
    ("postgresql://app@db/shop?sslmode=require", "options (?sslmode=require) are not supported"),
    ("postgresql://app@db/shop?password=hunter2", "carries a password"),
    ("postgresql://app@db1,db2:5432/shop", "several hosts"),
    ("postgresql://app@db:0/shop", "port 0"),
    ("postgresql://app@db/sh%0Aop", "control characters"),
    ("postgresql://app@db/sh%00op", "control characters"),
])
def test_a_malformed_url_is_refused_with_the_expected_shape_and_never_echoed(url, says):
    with pytest.raises(SourceError, match=re.escape(says)) as refused:
        parse_url("shop", url)
    assert "hunter2" not in str(refused.value) and "postgresql://USER@HOST:PORT/DATABASE" in str(refused.value) \
        or "carries a password" in str(refused.value)


@pytest.mark.parametrize("name", ["Shop", "1shop", "shop-db", "", "x" * 41, "shop db"])
def test_names_that_cannot_become_table_topic_and_slot_names_are_refused(name):
    with pytest.raises(SourceError, match="lower-case letters"):
        parse_url(name, "postgresql://app@db/shop")


def test_the_password_comes_from_the_environment_then_mounted_secrets_then_the_stacks_own(tmp_path, monkeypatch):
    settings = Settings(state_dir=tmp_path / "state")
    source = parse_url("shop", "postgresql://app@db/shop")
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    monkeypatch.delenv("BIONICFLOW_SOURCE_SHOP_PASSWORD", raising=False)
    monkeypatch.setenv("BIONICFLOW_SECRETS_DIR", str(mounted))
    with pytest.raises(SourceError, match="no password for source shop") as missing:
        source_password(settings, source)
    assert str(mounted / "BIONICFLOW_SOURCE_SHOP_PASSWORD") in str(missing.value)
    settings.secrets_dir.mkdir(parents=True)
    (settings.secrets_dir / "source_shop_password").write_text("stack's own \n")  # spaces are the password's
    assert source_password(settings, source) == "stack's own "
    (mounted / "BIONICFLOW_SOURCE_SHOP_PASSWORD").write_text("mounted\n")
    assert source_password(settings, source) == "mounted"
    monkeypatch.setenv("BIONICFLOW_SOURCE_SHOP_PASSWORD", "")  # empty: no password, the files count
    assert source_password(settings, source) == "mounted"
    monkeypatch.setenv("BIONICFLOW_SOURCE_SHOP_PASSWORD", "from-env ")
    assert source_password(settings, source) == "from-env "
