"""Which database this workstation uses: the SQLite file (default) or a department server.

Why here and not in the database: the choice is needed before any database is open. It lives in
``settings.json`` (``app_settings``) as host/port/database/user and a password *mode*, never the
password itself: that is kept in the operating system's keyring, or asked at start (the GUI), or
left to libpq (``PGPASSWORD`` or ``~/.pgpass``) for the command line. Precedence for every
command: ``--db URL``, then ``AUDITDESK_DB``, then these settings, then the SQLite file.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import URL

from auditdesk.runtime import app_settings

SETTINGS_KEY = "database"
KEYRING_SERVICE = "AuditDesk database"
PASSWORD_MODES = ("keyring", "ask", "none")
ENV_VAR = "AUDITDESK_DB"


class DatabaseSettingsError(ValueError):
    """The server settings are incomplete or the password store cannot be used (one sentence)."""


@dataclass(frozen=True)
class ServerSettings:
    """A PostgreSQL server database. ``host`` is a name/address or a socket folder (``/...``)."""

    host: str
    database: str
    user: str
    port: int | None = None
    password_mode: str = "keyring"

    def validate(self) -> None:
        if not self.host.strip():
            raise DatabaseSettingsError("Enter the server's host name or its socket folder.")
        if not self.database.strip():
            raise DatabaseSettingsError("Enter the database name (e.g. auditdesk).")
        if not self.user.strip():
            raise DatabaseSettingsError("Enter the database user name.")
        if self.port is not None and not 1 <= int(self.port) <= 65535:
            raise DatabaseSettingsError(f"The port must be 1 to 65535, not {self.port}.")
        if self.password_mode not in PASSWORD_MODES:
            raise DatabaseSettingsError(
                f"Unknown password mode {self.password_mode!r}; use {', '.join(PASSWORD_MODES)}."
            )

    @property
    def account(self) -> str:
        """The keyring entry's name: one password per user on one server database."""
        return f"{self.user}@{self.host}:{self.port or 5432}/{self.database}"

    def url(self, password: str | None = None) -> str:
        """A SQLAlchemy URL (psycopg 3); a socket folder goes into ``?host=``."""
        socket = self.host.startswith("/")
        url = URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=password or None,
            host=None if socket else self.host,
            port=self.port,
            database=self.database,
            query={"host": self.host} if socket else {},
        )
        return url.render_as_string(hide_password=False)


def load_server() -> ServerSettings | None:
    """The configured server, or None when this workstation uses its SQLite file."""
    stored = app_settings.load().get(SETTINGS_KEY)
    if not isinstance(stored, dict) or stored.get("backend") != "postgresql":
        return None
    try:
        port = stored.get("port")
        return ServerSettings(
            host=str(stored.get("host", "")),
            database=str(stored.get("database", "")),
            user=str(stored.get("user", "")),
            port=int(port) if port not in (None, "") else None,
            password_mode=str(stored.get("password_mode", "keyring")),
        )
    except (TypeError, ValueError):
        return None


def save_server(server: ServerSettings | None) -> None:
    """Use this server from the next start (None: back to the SQLite file). No password."""
    if server is None:
        app_settings.save(**{SETTINGS_KEY: {"backend": "sqlite"}})
        return
    server.validate()
    values: dict[str, Any] = {"backend": "postgresql", **asdict(server)}
    app_settings.save(**{SETTINGS_KEY: values})


def _keyring() -> Any:
    try:
        import keyring
        from keyring.errors import KeyringError  # noqa: F401
    except ImportError as exc:  # pragma: no cover - keyring is a dependency
        raise DatabaseSettingsError(
            "The keyring package is missing; choose 'ask at start' for the password."
        ) from exc
    return keyring


def keyring_password(server: ServerSettings) -> str | None:
    """The stored password, or None when there is none (or no keyring on this system)."""
    keyring = _keyring()
    try:
        return keyring.get_password(KEYRING_SERVICE, server.account)
    except Exception:  # no usable backend: treated as "no stored password"
        return None


def store_keyring_password(server: ServerSettings, password: str) -> None:
    """Keep the password in the OS keyring (never in settings.json)."""
    keyring = _keyring()
    try:
        keyring.set_password(KEYRING_SERVICE, server.account, password)
    except Exception as exc:
        raise DatabaseSettingsError(
            f"The password could not be stored in this system's keyring ({exc}); choose "
            "'ask at start' instead."
        ) from exc


def configured_url(password: str | None = None) -> str | None:
    """``AUDITDESK_DB``, else the configured server's URL (password from ``password`` or the
    keyring), else None (the SQLite file)."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return env
    server = load_server()
    if server is None:
        return None
    if password is None and server.password_mode == "keyring":
        password = keyring_password(server)
    return server.url(password)


def needs_password_prompt() -> ServerSettings | None:
    """The server whose password the GUI must ask for at start (mode 'ask'), if any."""
    if os.environ.get(ENV_VAR, "").strip():
        return None
    server = load_server()
    return server if server is not None and server.password_mode == "ask" else None


def database_url() -> str:
    """The database every command and the window open: ``AUDITDESK_DB``, else the department
    server chosen in the settings, else the SQLite file in the data directory."""
    from auditdesk.paths import default_db_url

    return configured_url() or default_db_url()
