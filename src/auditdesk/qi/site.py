"""Site settings, the pseudonym secret, technologists, locations and chart annotations.

Why it is shaped like this:

* **Raw operator names are kept, mapping comes on top.** The index stores Operators' Name as
  found in the header ("SMITH^JANE", "Smith, Jane", "jsmith"); a technologist has any number of
  aliases (stored normalised), so reports group one person's exams together without rewriting
  indexed data. An unmapped name comes back as itself, so nothing is lost before it is mapped.
* **Resolvers are closures.** Reports resolve a name per exam; one query builds a dict and the
  lookup is then a dict access.
* **Pseudonymous exam keys.** Exports identify an exam by an HMAC of its Study Instance UID under
  a random per-database secret: stable for the site, meaningless elsewhere, not reversible.
* No Qt here: the CLI, reports and tests use it directly.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from auditdesk.dicom.view_text import format_spellings, parse_spellings
from auditdesk.qi.spc import SMALL_NP
from auditdesk.qi.spc_rules import ALL_RULES, format_rules, parse_rules
from auditdesk.qi.week_range import WEEK_POLICIES
from auditdesk.store import models as m

DEFAULT_SPC_RULES = format_rules(ALL_RULES)
#: Largest small-n setting accepted (a larger one would flag every week of any real site).
MAX_SMALL_NP = 100.0
DEFAULT_CHECKLIST_ID = "acr-mammo-positioning"
SECRET_BYTES = 32
EXAM_KEY_PREFIX = "EX-"
EXAM_KEY_LENGTH = 10


class SiteError(ValueError):
    """A request about site data that cannot be done; the message is one sentence for users."""


# --------------------------------------------------------------------------------------------
# settings and secret
# --------------------------------------------------------------------------------------------


@dataclass
class SiteSettings:
    site_name: str = ""
    site_id: str = ""
    organisation: str = ""
    collaborative: str = ""
    goal_pct: float | None = None
    checklist_id: str = DEFAULT_CHECKLIST_ID
    default_location: str | None = None
    is_demo: bool = False
    # p-chart special-cause rules switched on (spc_rules.RULE_NAMES keys, comma-separated), the
    # n·p̄ below which limits are flagged approximate, and what exports do with a cut week.
    spc_rules: str = DEFAULT_SPC_RULES
    spc_small_np: float = SMALL_NP
    week_policy: str = "snap"
    # Local view spellings, "OBL = MLO" per line (dicom.view_text.parse_spellings).
    view_spellings: str = ""


_SETTING_FIELDS = (
    "site_name",
    "site_id",
    "organisation",
    "collaborative",
    "goal_pct",
    "checklist_id",
    "default_location",
    "is_demo",
    "spc_rules",
    "spc_small_np",
    "week_policy",
    "view_spellings",
)


def _settings_row(session: Session) -> m.SiteSettingsRow | None:
    return session.scalars(select(m.SiteSettingsRow).order_by(m.SiteSettingsRow.id)).first()


def get_site(session: Session) -> SiteSettings:
    """The saved settings, or the defaults when none were saved yet."""
    row = _settings_row(session)
    if row is None:
        return SiteSettings()
    return SiteSettings(**{name: getattr(row, name) for name in _SETTING_FIELDS})


def save_site(session: Session, settings: SiteSettings) -> None:
    """Store the settings (one row); checks the goal is a percentage and a checklist is named."""
    if settings.goal_pct is not None and not 0 <= settings.goal_pct <= 100:
        raise SiteError(f"The goal must be a percentage from 0 to 100, not {settings.goal_pct}.")
    if not (settings.checklist_id or "").strip():
        raise SiteError("The measure checklist id must not be empty.")
    _check_spc(settings)
    try:
        settings.view_spellings = format_spellings(parse_spellings(settings.view_spellings))
    except ValueError as exc:
        raise SiteError(str(exc)) from None
    row = _settings_row(session)
    if row is None:
        row = m.SiteSettingsRow()
        session.add(row)
    for name in _SETTING_FIELDS:
        value = getattr(settings, name)
        if isinstance(value, str) and name != "default_location":
            value = value.strip()
        setattr(row, name, value)
    row.default_location = (settings.default_location or "").strip() or None
    row.goal_pct = None if settings.goal_pct is None else float(settings.goal_pct)
    row.updated_at = m.utcnow()
    session.flush()


def _check_spc(settings: SiteSettings) -> None:
    """Validate and normalise the chart and export settings in place (SiteError if invalid)."""
    try:
        settings.spc_rules = format_rules(parse_rules(settings.spc_rules))
    except ValueError as exc:
        raise SiteError(str(exc)) from None
    small = settings.spc_small_np
    if not isinstance(small, int | float) or not 0 <= small <= MAX_SMALL_NP:
        raise SiteError(
            f"The small-n limit must be a number from 0 (off) to {MAX_SMALL_NP:g}, not {small}."
        )
    settings.spc_small_np = float(small)
    if settings.week_policy not in WEEK_POLICIES:
        raise SiteError(
            f"The week policy must be {' or '.join(WEEK_POLICIES)}, not {settings.week_policy!r}."
        )


def enabled_rules(settings: SiteSettings) -> frozenset[str]:
    """The special-cause rules the site has switched on."""
    return parse_rules(settings.spc_rules)


def site_secret(session: Session) -> bytes:
    """The database's pseudonym secret: 32 random bytes, created on first use and kept."""
    row = session.scalars(select(m.SiteSecret).order_by(m.SiteSecret.id)).first()
    if row is None:
        row = m.SiteSecret(secret=secrets.token_bytes(SECRET_BYTES))
        session.add(row)
        session.flush()
    return bytes(row.secret)


def exam_key(secret: bytes, study_uid: str) -> str:
    """Pseudonymous exam key, e.g. 'EX-K3J5Q2ZT7M': HMAC-SHA256 of the UID, base32, 10 chars."""
    digest = hmac.new(secret, study_uid.encode("utf-8"), hashlib.sha256).digest()
    return EXAM_KEY_PREFIX + base64.b32encode(digest).decode("ascii")[:EXAM_KEY_LENGTH]


# --------------------------------------------------------------------------------------------
# technologists and aliases
# --------------------------------------------------------------------------------------------


@dataclass
class TechnologistInfo:
    id: int
    name: str
    initials: str
    location: str | None
    active: bool
    aliases: list[str] = field(default_factory=list)


_SEPARATORS = re.compile(r"[\^,.\s]+")


def normalise_operator(raw: str | None) -> str | None:
    """Comparable form of an operator name: 'SMITH^JANE' and 'Smith, Jane' -> 'smith jane'."""
    if raw is None:
        return None
    text = _SEPARATORS.sub(" ", raw.casefold()).strip()
    return text or None


def _info(tech: m.Technologist) -> TechnologistInfo:
    return TechnologistInfo(
        id=tech.id,
        name=tech.name,
        initials=tech.initials,
        location=tech.location.name if tech.location else None,
        active=tech.active,
        aliases=[a.raw_name for a in tech.aliases],
    )


def _technologists(session: Session) -> list[m.Technologist]:
    return list(
        session.scalars(
            select(m.Technologist)
            .options(selectinload(m.Technologist.aliases), selectinload(m.Technologist.location))
            .order_by(m.Technologist.name)
        )
    )


def list_technologists(session: Session, include_inactive: bool = False) -> list[TechnologistInfo]:
    """Canonical technologists by name, with their aliases."""
    return [_info(t) for t in _technologists(session) if include_inactive or t.active]


def _location_row(session: Session, name: str) -> m.Location:
    row = session.scalars(select(m.Location).where(m.Location.name == name)).first()
    if row is None:
        row = m.Location(name=name)
        session.add(row)
        session.flush()
    return row


def add_technologist(
    session: Session, name: str, initials: str = "", location: str | None = None
) -> TechnologistInfo:
    """Add a canonical technologist; an unknown location is added to the location list."""
    name = " ".join((name or "").split())
    if not name:
        raise SiteError("A technologist needs a name.")
    if len(name) > 128:
        raise SiteError("A technologist name must be at most 128 characters.")
    initials = (initials or "").strip()
    if len(initials) > 8:
        raise SiteError("Initials must be at most 8 characters.")
    existing = session.scalars(
        select(m.Technologist).where(func.lower(m.Technologist.name) == name.lower())
    ).first()
    if existing is not None:
        raise SiteError(f"A technologist named {existing.name!r} already exists.")
    tech = m.Technologist(name=name, initials=initials)
    location = (location or "").strip()
    if location:
        tech.location = _location_row(session, location)
    session.add(tech)
    session.flush()
    return _info(tech)


def set_technologist(
    session: Session,
    technologist_id: int,
    *,
    initials: str | None = None,
    location: str | None = None,
    active: bool | None = None,
) -> TechnologistInfo:
    """Change initials, location ('' clears it) or active flag of a technologist."""
    tech = session.get(m.Technologist, technologist_id)
    if tech is None:
        raise SiteError(f"There is no technologist with id {technologist_id}.")
    if initials is not None:
        if len(initials.strip()) > 8:
            raise SiteError("Initials must be at most 8 characters.")
        tech.initials = initials.strip()
    if location is not None:
        tech.location = _location_row(session, location.strip()) if location.strip() else None
    if active is not None:
        tech.active = active
    session.flush()
    return _info(tech)


def find_technologist(session: Session, name: str) -> TechnologistInfo | None:
    """A technologist by canonical name (any case, either name order) or by an alias."""
    key = normalise_operator(name)
    canonical = _name_map(session).get(key) if key is not None else None
    if canonical is None:
        return None
    tech = session.scalars(select(m.Technologist).where(m.Technologist.name == canonical)).first()
    return _info(tech) if tech is not None else None


def add_alias(session: Session, technologist_id: int, raw_name: str) -> None:
    """Map a raw operator name (stored normalised) to a technologist; remaps an existing alias."""
    tech = session.get(m.Technologist, technologist_id)
    if tech is None:
        raise SiteError(f"There is no technologist with id {technologist_id}.")
    key = normalise_operator(raw_name)
    if key is None:
        raise SiteError("An alias must not be empty.")
    if len(key) > 128:
        raise SiteError("An alias must be at most 128 characters.")
    alias = session.scalars(
        select(m.TechnologistAlias).where(m.TechnologistAlias.raw_name == key)
    ).first()
    if alias is None:
        session.add(m.TechnologistAlias(technologist_pk=tech.id, raw_name=key))
    else:
        alias.technologist_pk = tech.id
    session.flush()
    session.expire(tech, ["aliases"])


def remove_alias(session: Session, raw_name: str) -> None:
    """Forget the mapping of a raw operator name (no error when there was none)."""
    key = normalise_operator(raw_name)
    if key is None:
        return
    alias = session.scalars(
        select(m.TechnologistAlias).where(m.TechnologistAlias.raw_name == key)
    ).first()
    if alias is not None:
        session.delete(alias)
        session.flush()


def _name_map(session: Session) -> dict[str, str]:
    """Normalised raw name -> canonical name, from one query: canonical names (also as 'last
    first', DICOM's order), then aliases, which win over a canonical-name match."""
    rows = session.execute(
        select(m.Technologist.name, m.TechnologistAlias.raw_name)
        .outerjoin(m.TechnologistAlias, m.TechnologistAlias.technologist_pk == m.Technologist.id)
        .order_by(m.Technologist.id)
    ).all()
    mapping: dict[str, str] = {}
    reversed_names: dict[str, str] = {}
    for name, _alias in rows:
        key = normalise_operator(name)
        if key is None:
            continue
        mapping.setdefault(key, name)
        parts = key.split(" ")
        if len(parts) == 2:  # "Jane Smith" also matches "SMITH^JANE"
            reversed_names.setdefault(f"{parts[1]} {parts[0]}", name)
    for key, name in reversed_names.items():
        mapping.setdefault(key, name)
    for name, alias in rows:
        if alias is not None:
            mapping[alias] = name
    return mapping


def technologist_resolver(session: Session) -> Callable[[str | None], str | None]:
    """A function raw Study.technologist -> canonical name (unmapped: the raw name; blank:
    None). Reads the mapping once; call it per exam."""
    mapping = _name_map(session)

    def resolve(raw: str | None) -> str | None:
        key = normalise_operator(raw)
        if key is None:
            return None
        found = mapping.get(key)
        return found if found is not None else (raw or "").strip()

    return resolve


def unmapped_operator_names(session: Session) -> list[tuple[str, int]]:
    """Raw operator names of indexed studies that map to no technologist, with study counts
    (most studies first) — what a team leader should map next."""
    mapping = _name_map(session)
    rows = session.execute(
        select(m.Study.technologist, func.count(m.Study.id))
        .where(m.Study.technologist.is_not(None))
        .group_by(m.Study.technologist)
    )
    out = [
        (raw, int(count))
        for raw, count in rows
        if (key := normalise_operator(raw)) is not None and key not in mapping
    ]
    out.sort(key=lambda item: (-item[1], item[0]))
    return out


# --------------------------------------------------------------------------------------------
# locations
# --------------------------------------------------------------------------------------------


def list_locations(session: Session) -> list[str]:
    """Location names, alphabetical."""
    return list(session.scalars(select(m.Location.name).order_by(m.Location.name)))


def add_location(session: Session, name: str) -> None:
    """Add a location; adding one that exists does nothing."""
    name = " ".join((name or "").split())
    if not name:
        raise SiteError("A location needs a name.")
    if len(name) > 128:
        raise SiteError("A location name must be at most 128 characters.")
    _location_row(session, name)


def location_resolver(session: Session) -> Callable[[str | None], str | None]:
    """A function canonical technologist -> their location, else the site's default location."""
    default = get_site(session).default_location
    rows = session.execute(
        select(m.Technologist.name, m.Location.name).join(
            m.Location, m.Location.id == m.Technologist.location_pk
        )
    )
    by_name = {tech: loc for tech, loc in rows}

    def resolve(technologist: str | None) -> str | None:
        if technologist is None:
            return default
        return by_name.get(technologist, default)

    return resolve


# --------------------------------------------------------------------------------------------
# annotations
# --------------------------------------------------------------------------------------------


@dataclass
class Annotation:
    id: int
    date: dt.date
    label: str
    description: str
    pdsa_cycle: str
    starts_phase: bool


def _annotation(row: m.Annotation) -> Annotation:
    return Annotation(
        id=row.id,
        date=row.date,
        label=row.label,
        description=row.description,
        pdsa_cycle=row.pdsa_cycle,
        starts_phase=row.starts_phase,
    )


def list_annotations(session: Session) -> list[Annotation]:
    """Chart annotations, oldest first."""
    rows = session.scalars(select(m.Annotation).order_by(m.Annotation.date, m.Annotation.id))
    return [_annotation(r) for r in rows]


def add_annotation(
    session: Session,
    date: dt.date,
    label: str,
    description: str = "",
    pdsa_cycle: str = "",
    starts_phase: bool = False,
) -> Annotation:
    """Add a dated note for the charts; ``starts_phase`` starts new control limits there."""
    if isinstance(date, dt.datetime):
        date = date.date()
    if not isinstance(date, dt.date):
        raise SiteError(f"An annotation needs a date, not {date!r}.")
    label = " ".join((label or "").split())
    if not label:
        raise SiteError("An annotation needs a label.")
    if len(label) > 128:
        raise SiteError("An annotation label must be at most 128 characters.")
    pdsa_cycle = (pdsa_cycle or "").strip()
    if len(pdsa_cycle) > 64:
        raise SiteError("A PDSA cycle name must be at most 64 characters.")
    row = m.Annotation(
        date=date,
        label=label,
        description=(description or "").strip(),
        pdsa_cycle=pdsa_cycle,
        starts_phase=bool(starts_phase),
    )
    session.add(row)
    session.flush()
    return _annotation(row)


def delete_annotation(session: Session, annotation_id: int) -> None:
    """Delete an annotation (it is a note on the charts, not part of the audit record)."""
    row = session.get(m.Annotation, annotation_id)
    if row is None:
        raise SiteError(f"There is no annotation with id {annotation_id}.")
    session.delete(row)
    session.flush()


__all__ = [
    "Annotation",
    "SiteError",
    "SiteSettings",
    "TechnologistInfo",
    "add_alias",
    "add_annotation",
    "add_location",
    "add_technologist",
    "delete_annotation",
    "enabled_rules",
    "exam_key",
    "find_technologist",
    "get_site",
    "list_annotations",
    "list_locations",
    "list_technologists",
    "location_resolver",
    "normalise_operator",
    "remove_alias",
    "save_site",
    "set_technologist",
    "site_secret",
    "technologist_resolver",
    "unmapped_operator_names",
]
