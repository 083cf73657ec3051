"""Building and writing a reviewer package: pseudonymise (SOP UIDs become image keys), refuse
free text that holds an identifier of its exam, build the payload, sign and write it. Separate
from the import, which has the merge rules; the two share only the format (``package_crypto``).
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import platform
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.exchange.package_check import DEFAULT_PURPOSE, PackageError
from auditdesk.exchange.package_crypto import (
    PACKAGE_FORMAT,
    PACKAGE_KIND,
    _iso,
    _write_atomic,
    canonical_json,
    fingerprint,
    image_key,
    sign,
)
from auditdesk.qi import site
from auditdesk.store.models import (
    Audit,
    AuditAnswer,
    AuditEvent,
    AuditMeasurement,
    AuditOverride,
    Image,
    Patient,
    Reviewer,
    Series,
    Study,
    utcnow,
)

#: Identifiers shorter than this are not searched for in free text (too many false alarms).
_MIN_IDENTIFIER_LENGTH = 6


# --------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------


def _scrub(value: Any, secret: bytes) -> Any:
    """Replace every ``"sop_uid": UID`` in a JSON value by ``"image_key": IM-…``."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "sop_uid":
                out["image_key"] = None if not item else image_key(secret, str(item))
            else:
                out[key] = _scrub(item, secret)
        return out
    if isinstance(value, list):
        return [_scrub(item, secret) for item in value]
    return value


def _restore(value: Any, resolve: Callable[[str | None], str | None], *, drop: bool) -> Any:
    """Inverse of :func:`_scrub` with this workstation's UIDs; an image not found here becomes
    None (``drop``: the ``sop_uid`` entry is left out, as for a geometry without an image)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "image_key":
                uid = resolve(item)
                if uid is not None or not drop:
                    out["sop_uid"] = uid
            else:
                out[key] = _restore(item, resolve, drop=drop)
        return out
    if isinstance(value, list):
        return [_restore(item, resolve, drop=drop) for item in value]
    return value


def _image_label(image: Image, series: Series) -> str:
    if image.view:
        return f"{image.laterality or ''}{image.view}"
    return series.mr_role or series.modality or "image"


def _strings(value: Any, where: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]")


_GENERATED_FIELDS = {"exam_key", "image_key", "key", "checklist"}
REDACTED = "[identifier removed]"


def _redact(value: Any, identifiers: list[str]) -> Any:
    """The value with every identifier in its text replaced by :data:`REDACTED`."""
    if isinstance(value, str):
        for ident in identifiers:
            value = value.replace(ident, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: _redact(v, identifiers) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, identifiers) for v in value]
    return value


def _check_no_identifiers(entry: dict[str, Any], identifiers: set[str]) -> None:
    """Keep identifiers of the exam out of the package whatever the reviewer typed.

    Current free text (comment, text answers, override reasons) carrying one (e.g. an accession
    typed into a comment) stops the export: the reviewer should correct it. Earlier values in
    the history cannot be corrected, so there the identifier is replaced by a marker.
    """
    wanted = sorted(
        (i for i in identifiers if i and len(i) >= _MIN_IDENTIFIER_LENGTH), key=len, reverse=True
    )
    entry["events"] = _redact(entry["events"], wanted)
    for where, text in _strings({k: v for k, v in entry.items() if k != "events"}, ""):
        if where.rsplit(".", 1)[-1] in _GENERATED_FIELDS:
            continue
        for ident in wanted:
            if ident in text:
                raise PackageError(
                    f"Exam {entry['exam_key']}: {where} contains a patient identifier or UID of "
                    "the exam; remove it from the audit before exporting."
                )


def build_payload(
    session: Session,
    *,
    reviewer_pks: list[int] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, Any]:
    """The package payload (unsigned) for the chosen audits; see the module docstring."""
    secret = site.site_secret(session)
    settings = site.get_site(session)
    query = (
        select(Audit, Study)
        .join(Study, Study.id == Audit.study_pk)
        .order_by(Study.procedure_date, Study.id, Audit.id)
    )
    if reviewer_pks is not None:
        query = query.where(Audit.reviewer_pk.in_(list(reviewer_pks)))
    if start is not None:
        query = query.where(Study.procedure_date >= start)
    if end is not None:
        query = query.where(Study.procedure_date <= end)
    rows = session.execute(query).all()

    people: dict[int, Reviewer] = {r.id: r for r in session.scalars(select(Reviewer))}

    def name(pk: int | None) -> str | None:
        return None if pk is None else people[pk].name

    used: set[str] = set()
    versions: dict[str, dict[str, Any]] = {}
    audits: list[dict[str, Any]] = []
    for audit, study in rows:
        version = audit.checklist_version
        versions[version.content_hash] = {
            "checklist_id": version.checklist_id,
            "version": version.version,
            "title": version.title,
            "source_text": version.source_text,
        }
        images = session.execute(
            select(Image, Series)
            .join(Series, Series.id == Image.series_pk)
            .where(Series.study_pk == study.id)
        ).all()
        labels = {img.sop_uid: _image_label(img, ser) for img, ser in images}
        identifiers = {study.study_uid, study.accession_number or ""}
        identifiers |= {ser.series_uid for _img, ser in images} | set(labels)
        if study.patient_pk is not None:
            patient = session.get(Patient, study.patient_pk)
            if patient is not None:
                identifiers.add(patient.patient_id)

        answers = [
            {
                "key": a.key,
                "value": a.value,
                "reason_code": a.reason_code,
                "source": a.source,
                "answered_by": name(a.answered_by),
                "answered_at": _iso(a.answered_at),
            }
            for a in session.scalars(
                select(AuditAnswer)
                .where(AuditAnswer.audit_pk == audit.id)
                .order_by(AuditAnswer.key)
            )
        ]
        measurements = [
            {
                "key": mm.key,
                "value_mm": mm.value_mm,
                "value_px": mm.value_px,
                "calibration_source": mm.calibration_source,
                "image": None
                if mm.sop_uid is None
                else {"key": image_key(secret, mm.sop_uid), "label": labels.get(mm.sop_uid, "")},
                "geometry": _scrub(mm.geometry, secret),
                "measured_by": name(mm.measured_by),
                "measured_at": _iso(mm.measured_at),
            }
            for mm in session.scalars(
                select(AuditMeasurement)
                .where(AuditMeasurement.audit_pk == audit.id)
                .order_by(AuditMeasurement.key)
            )
        ]
        overrides = [
            {
                "field": o.field,
                "value": o.value,
                "reason": o.reason,
                "by": name(o.reviewer_pk),
                "at": _iso(o.created_at),
            }
            for o in session.scalars(
                select(AuditOverride)
                .where(AuditOverride.audit_pk == audit.id)
                .order_by(AuditOverride.id)
            )
        ]
        events = [
            {
                "kind": e.kind,
                "key": e.key,
                "old": _scrub(e.old_value, secret),
                "new": _scrub(e.new_value, secret),
                "by": name(e.reviewer_pk),
                "at": _iso(e.at),
            }
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.audit_pk == audit.id).order_by(AuditEvent.id)
            )
            if e.kind != "rescore"
        ]
        used.add(people[audit.reviewer_pk].name)
        for seq, who in (
            (answers, "answered_by"),
            (measurements, "measured_by"),
            (overrides, "by"),
            (events, "by"),
        ):
            used |= {item[who] for item in seq if item[who] is not None}
        reviewer = people[audit.reviewer_pk]
        entry = {
            "exam_key": site.exam_key(secret, study.study_uid),
            "reviewer": {
                "name": reviewer.name,
                "role": reviewer.role,
                "initials": reviewer.initials,
            },
            "checklist": version.content_hash,
            "purpose": audit.purpose or DEFAULT_PURPOSE,
            "status": audit.status,
            "comment": audit.comment,
            "learning_opportunity": bool(audit.learning_opportunity),
            "blinded": bool(audit.blinded),
            "started_at": _iso(audit.started_at),
            "updated_at": _iso(audit.updated_at),
            "completed_at": _iso(audit.completed_at),
            "answers": answers,
            "measurements": measurements,
            "overrides": overrides,
            "events": events,
        }
        _check_no_identifiers(entry, identifiers)
        audits.append(entry)

    by_name = {r.name: r for r in people.values()}
    reviewers = {
        n: {"role": by_name[n].role, "initials": by_name[n].initials} for n in sorted(used)
    }
    return {
        "kind": PACKAGE_KIND,
        "format": PACKAGE_FORMAT,
        "site_id": settings.site_id,
        "site_name": settings.site_name,
        "site_key_fingerprint": fingerprint(secret),
        "exported_by": {
            "workstation": platform.node(),
            "reviewers": sorted({people[a.reviewer_pk].name for a, _s in rows}),
        },
        "created_at": _iso(utcnow()),
        "reviewers": reviewers,
        "checklist_versions": versions,
        "audits": audits,
    }


def write_package(path: str | os.PathLike[str], payload: dict[str, Any], secret: bytes) -> None:
    """Sign ``payload`` and write it gzip'd (reproducible bytes: no time stamp in the header)."""
    document = {"payload": payload, "signature": sign(secret, payload)}
    data = gzip.compress(canonical_json(document), mtime=0)
    try:
        _write_atomic(Path(path), data)
    except OSError as exc:
        raise PackageError(f"Cannot write the package {path}: {exc.strerror or exc}.") from exc


def export_package(
    session: Session,
    path: str | os.PathLike[str],
    *,
    reviewer_pks: list[int] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> int:
    """Write the chosen audits (any status) to a signed package; returns how many.

    ``reviewer_pks`` limits to those reviewers' audits; ``start``/``end`` are inclusive
    procedure dates (as in the weekly exports). Run it in a transaction: the site secret is
    created on first use.
    """
    payload = build_payload(session, reviewer_pks=reviewer_pks, start=start, end=end)
    write_package(path, payload, site.site_secret(session))
    return len(payload["audits"])
