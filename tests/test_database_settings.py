"""The workstation's database choice: settings without a password, keyring, Test connection."""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from auditdesk.paths import data_dir
from auditdesk.runtime import db_settings
from auditdesk.runtime.db_settings import DatabaseSettingsError, ServerSettings, database_url


class MemoryKeyring(KeyringBackend):
    """An in-memory OS keyring for the tests."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    before = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(before)


def _socket_server(pg_cluster, pg_url: str, mode: str = "keyring") -> ServerSettings:
    from sqlalchemy import make_url

    name = make_url(pg_url).database or ""
    return ServerSettings(host=str(pg_cluster.sock), database=name, user="postgres",
                          password_mode=mode)  # fmt: skip


def test_urls_for_a_host_and_for_a_socket_folder() -> None:
    tcp = ServerSettings(host="db.example.org", database="auditdesk", user="ann", port=5433)
    assert tcp.url("s3cret") == "postgresql+psycopg://ann:s3cret@db.example.org:5433/auditdesk"
    sock = ServerSettings(host="/run/postgresql", database="auditdesk", user="ann")
    assert sock.url() == "postgresql+psycopg://ann@/auditdesk?host=%2Frun%2Fpostgresql"


def test_incomplete_settings_are_refused_in_one_sentence() -> None:
    with pytest.raises(DatabaseSettingsError, match="database name"):
        ServerSettings(host="h", database=" ", user="u").validate()
    with pytest.raises(DatabaseSettingsError, match="port must be 1 to 65535"):
        ServerSettings(host="h", database="d", user="u", port=70000).validate()


def test_precedence_env_then_settings_then_sqlite(monkeypatch, memory_keyring) -> None:
    assert database_url().startswith("sqlite:///")
    server = ServerSettings(host="db.example.org", database="auditdesk", user="ann")
    db_settings.save_server(server)
    db_settings.store_keyring_password(server, "pw")
    assert database_url() == "postgresql+psycopg://ann:pw@db.example.org/auditdesk"
    stored = (data_dir() / "settings.json").read_text()
    assert "pw" not in json.loads(stored)["database"].values()  # never in plain settings
    monkeypatch.setenv("AUDITDESK_DB", "sqlite:////tmp/other.sqlite")
    assert database_url() == "sqlite:////tmp/other.sqlite"
    monkeypatch.delenv("AUDITDESK_DB")
    db_settings.save_server(None)
    assert database_url().startswith("sqlite:///")


def test_ask_mode_needs_a_prompt_and_stores_nothing(memory_keyring) -> None:
    server = ServerSettings(host="h", database="d", user="u", password_mode="ask")
    db_settings.save_server(server)
    assert db_settings.needs_password_prompt() == server
    assert db_settings.configured_url() == "postgresql+psycopg://u@h/d"
    assert memory_keyring.items == {}


@pytest.mark.gui
def test_database_page_tests_the_connection_and_saves(
    qtbot, pg_cluster, pg_url: str, memory_keyring, tmp_path: Path
) -> None:
    from auditdesk.ui.common.database_page import DatabasePage

    page = DatabasePage()
    qtbot.addWidget(page)
    assert page.sqlite_radio.isChecked() and not page.test_button.isEnabled()
    page.server_radio.setChecked(True)
    server = _socket_server(pg_cluster, pg_url)
    page.host.setText(server.host)
    page.database.setText(server.database)
    page.user.setText("postgres")
    page.password.setText("typed-secret")  # trust auth: accepted and ignored by the server
    assert page.test_connection(), page.result.text()
    assert "Connected to PostgreSQL 1" in page.result.text()
    assert "empty" in page.result.text()
    assert page.save()
    assert db_settings.load_server() == server
    assert memory_keyring.items == {(db_settings.KEYRING_SERVICE, server.account): "typed-secret"}
    assert "typed-secret" not in (data_dir() / "settings.json").read_text()
    page.database.setText("no_such_db")
    assert not page.test_connection()
    assert "Could not connect" in page.result.text() and "no_such_db" in page.result.text()
