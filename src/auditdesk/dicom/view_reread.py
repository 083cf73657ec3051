"""Which indexed mammograms an import reads again for their view, and the site's spellings.

Unchanged files are normally skipped at import. Two kinds of mammogram are read once more:
those indexed before view confidence existed (schema 0006), and, when the site has local view
spellings, those whose view or side was only guessed or not found (a new spelling may now name
it). Kept apart from ``index.py`` so the import flow stays readable.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from auditdesk.dicom.view_text import Spellings, parse_spellings
from auditdesk.store.models import Image, SiteSettingsRow


def site_spellings(session: Session) -> Spellings:
    """The site's local view spellings (none when no settings were saved yet)."""
    text = session.scalars(
        select(SiteSettingsRow.view_spellings).order_by(SiteSettingsRow.id)
    ).first()
    return parse_spellings(text, strict=False)


def stale_mammograms(session: Session, has_spellings: bool) -> set[tuple[str, str | None]]:
    """(path, archive member) of mammograms to read again even if the file is unchanged."""
    weak = Image.view_confidence.is_(None)
    if has_spellings:
        weak = or_(weak, Image.view_confidence.in_(("low", "none")))
    rows = session.execute(
        select(Image.path, Image.archive_member).where(Image.view_source.is_not(None), weak)
    )
    return {(path, member) for path, member in rows}
