"""Site-key files: export this workstation's site secret and import another's, so the
workstations of one site make the same exam keys. Separate from packages because a key file is
handed over once, like a password, and has its own refusal rules (another site, audits already
keyed with a different secret).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditdesk.exchange.package_check import PackageError
from auditdesk.exchange.package_crypto import (
    SITE_KEY_FORMAT,
    SITE_KEY_KIND,
    _iso,
    _write_atomic,
    fingerprint,
)
from auditdesk.qi import site
from auditdesk.store.models import (
    Audit,
    SiteSecret,
    utcnow,
)


def _secret_row(session: Session) -> SiteSecret | None:
    return session.scalars(select(SiteSecret).order_by(SiteSecret.id)).first()


# --------------------------------------------------------------------------------------------
# site key
# --------------------------------------------------------------------------------------------


def export_site_key(session: Session, path: str | os.PathLike[str]) -> None:
    """Write this workstation's site secret (created if there is none yet) to a key file.

    Run it in a transaction: a new secret must be kept. The file is written readable by its
    owner only; whoever has it can make exam keys of this site, so hand it over like a password.
    """
    secret = site.site_secret(session)
    settings = site.get_site(session)
    data = {
        "kind": SITE_KEY_KIND,
        "format": SITE_KEY_FORMAT,
        "site_id": settings.site_id,
        "site_name": settings.site_name,
        "fingerprint": fingerprint(secret),
        "secret": base64.b64encode(secret).decode("ascii"),
        "created_at": _iso(utcnow()),
    }
    try:
        _write_atomic(Path(path), json.dumps(data, indent=2).encode("utf-8"), private=True)
    except OSError as exc:
        raise PackageError(f"Cannot write the site key {path}: {exc.strerror or exc}.") from exc


def _read_site_key(path: Path) -> tuple[bytes, str, str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PackageError(f"Cannot read the site key {path}: {exc.strerror or exc}.") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("kind") != SITE_KEY_KIND:
        raise PackageError(f"{path.name} is damaged or not an AuditDesk site-key file.")
    if data.get("format") != SITE_KEY_FORMAT:
        raise PackageError(
            f"{path.name} is a site-key file of format {data.get('format')!r}, which this "
            "version of AuditDesk cannot read; update it."
        )
    try:
        secret = base64.b64decode(str(data.get("secret", "")), validate=True)
    except (binascii.Error, ValueError):
        secret = b""
    if not 16 <= len(secret) <= 64 or data.get("fingerprint") != fingerprint(secret):
        raise PackageError(f"{path.name} is damaged: its secret does not match its fingerprint.")
    return secret, str(data.get("site_id") or ""), str(data.get("site_name") or "")


def import_site_key(session: Session, path: str | os.PathLike[str], *, force: bool = False) -> None:
    """Make this workstation use the site secret of a key file (run it in a transaction).

    Refused without ``force`` when a different secret is already in use here — audits exist, so
    exam keys made with the old secret may already have left in exports and would not match
    later ones — or when the file names another site id than this workstation's.
    """
    path = Path(path)
    secret, site_id, site_name = _read_site_key(path)
    settings = site.get_site(session)
    if site_id and settings.site_id and site_id != settings.site_id and not force:
        raise PackageError(
            f"The site key is for site {site_id!r} but this workstation is set up as site "
            f"{settings.site_id!r}; import it with force only if that set-up is wrong."
        )
    row = _secret_row(session)
    if row is not None and bytes(row.secret) != secret:
        n_audits = session.scalar(select(func.count(Audit.id))) or 0
        if n_audits and not force:
            raise PackageError(
                f"This workstation already has a different site key and {n_audits} audit(s): "
                "exam keys in anything it exported were made with that key and would no longer "
                "match later exports; import the key with force only if this workstation should "
                "have used the site's key from the start."
            )
    if row is None:
        session.add(SiteSecret(secret=secret, created_at=utcnow()))
    else:
        row.secret = secret
    changed = False
    if site_id and (force or not settings.site_id):
        changed = changed or settings.site_id != site_id
        settings.site_id = site_id
    if site_name and not settings.site_name:
        settings.site_name = site_name
        changed = True
    if changed:
        site.save_site(session, settings)
    session.flush()
