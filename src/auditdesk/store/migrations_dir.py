"""Where the Alembic migrations live and how Alembic is pointed at them: needed by the database
(to migrate), the file check and the server check (to know the newest revision) without any of
them importing another (no db <-> db_check or db <-> pg circle)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats "%" as interpolation: socket paths in URLs are %-escaped.
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest revision this AuditDesk ships."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


__all__ = ["MIGRATIONS_DIR", "alembic_config", "head_revision"]
