"""Reviewer packages: carrying one workstation's audits to another workstation of the same site.

A reviewer audits on their own workstation (its own database); the team leader or QI coach
merges everybody's audits on theirs, to see all reads of an exam side by side and to compute
reviewer agreement. No Qt here: the CLI (``auditdesk package``), the GUI and tests use it.

Why it is shaped like this:

* **One site, one secret.** Exams are matched across workstations by their pseudonymous exam
  key, ``site.exam_key(site_secret, study_uid)``; the same study has the same key only where the
  site secret is the same. So the workstations of one site share the secret through a *site-key
  file* (:func:`export_site_key` / :func:`import_site_key`: JSON with the site id, the site name
  and the secret in base64; keep it like a password). Importing a key refuses to replace a
  different secret once audits exist on that workstation — exam keys already handed out in its
  exports (per-exam sheets, packages) were made with the old secret and would no longer match
  later ones — unless forced. Images are matched the same way, by a keyed hash of the SOP
  Instance UID (``IM-…``), so a measurement can be drawn again on the right image.
* **No patient data, no UIDs.** A package names exams and images only by these keyed hashes:
  no patient names, IDs, birth dates, accession numbers or DICOM UIDs. Measurement geometry is
  stored without its SOP Instance UID. As a last guard, export refuses a package whose free text
  (comments, override reasons, text answers) contains an identifier of the exam it describes.
* **Signed, so a changed file is noticed.** The file (``.adpkg``) is gzip'd JSON
  ``{"payload": …, "signature": …}``. The payload is ``{kind: "auditdesk-package", format: 1,
  site_id, site_name, site_key_fingerprint, exported_by: {workstation, reviewers}, created_at,
  reviewers: {name: {role, initials}}, checklist_versions: {content_hash: {checklist_id,
  version, title, source_text}}, audits: […]}``; the signature is HMAC-SHA256 under the site
  secret of the payload's canonical JSON (sorted keys, no spaces, UTF-8). The fingerprint is the
  first 16 hex digits of SHA-256 of the secret: it tells "another site" apart from "changed
  after export" without revealing the secret. Import checks, in this order: readable gzip and
  JSON, the format version, the fingerprint, the signature, the shape, then every answer against
  its checklist text (``package_check``: one invalid answer refuses the package, nothing is
  written); each failure is one sentence.
* **Each audit entry** carries ``exam_key``, ``reviewer`` {name, role, initials}, ``checklist``
  (content hash; the full checklist text travels once per version, so scores are recomputed
  under exactly the rules used), ``purpose`` ("review", "consensus", "reference"), ``status``,
  ``comment``, ``learning_opportunity``, ``blinded``, ``started_at``, ``updated_at``,
  ``completed_at``, ``answers`` [{key, value, reason_code, source, answered_by, answered_at}],
  ``measurements`` [{key, value_mm, value_px, calibration_source, image: {key, label} | None,
  geometry, measured_by, measured_at}], ``overrides`` [{field, value, reason, by, at}] and
  ``events`` (the history, UIDs replaced the same way; score recomputations are left out because
  the importing workstation recomputes). People are named, never referred to by database id.
  Times are naive UTC in ISO form.
* **Merging never loses a local answer.** :func:`import_package` runs in the caller's
  transaction (``db.transaction()``): an error raises :class:`PackageError` and the caller's
  rollback leaves the database as it was (all or nothing). Per audit, matched on study +
  reviewer + checklist id + purpose:

  - no local audit: it is added with its answers, measurements, overrides and history, keeping
    the original times and people, and its score is computed here (``added``);
  - identical content: nothing is written, not even history (``unchanged``) — importing the
    same package twice is the same as importing it once;
  - otherwise answers and measurements only in the package are added; a local one that differs
    is kept and reported as a conflict ("Exam EX-… RMLO:imf_open: this workstation has 'pass'
    (Riley Chen), the package has 'fail' (…); kept the local answer") — unless the package's
    history shows the local value is an earlier state of that same audit (imported before, then
    corrected on the reviewer's workstation), in which case the newer value replaces it. A local
    audit with no answers at all is thus simply filled. Overrides are appended when newer than
    the local ones of that field; comments fill an empty local comment; a package marked
    complete completes a local audit in progress when nothing conflicted (``updated``).

  Exams not indexed on this workstation are skipped and listed (``missing_exams``); reviewers
  not known here are created (``reviewers_created``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import gzip
import hashlib
import hmac
import json
import os
import platform
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditdesk.exchange.limits import RefusedInputError, read_json_gzip
from auditdesk.exchange.package_check import DEFAULT_PURPOSE, PackageError, check_package_answers
from auditdesk.exchange.package_check import expect as _expect
from auditdesk.exchange.package_check import validate_payload as _validate
from auditdesk.qi import site
from auditdesk.store import audits as store
from auditdesk.store.models import (
    Audit,
    AuditAnswer,
    AuditEvent,
    AuditMeasurement,
    AuditOverride,
    ChecklistVersion,
    Image,
    Patient,
    Reviewer,
    Series,
    SiteSecret,
    Study,
    utcnow,
)

PACKAGE_SUFFIX = ".adpkg"
SITE_KEY_SUFFIX = ".adkey"
PACKAGE_KIND = "auditdesk-package"
PACKAGE_FORMAT = 1
SITE_KEY_KIND = "auditdesk-site-key"
SITE_KEY_FORMAT = 1
FINGERPRINT_LENGTH = 16
IMAGE_KEY_PREFIX = "IM-"
PURPOSES = store.PURPOSES
#: Identifiers shorter than this are not searched for in free text (too many false alarms).
_MIN_IDENTIFIER_LENGTH = 6


@dataclass
class ImportReport:
    """What :func:`import_package` did; ``conflicts`` and ``notes`` are sentences for the user."""

    added: int = 0
    unchanged: int = 0
    updated: int = 0
    conflicts: list[str] = field(default_factory=list)
    missing_exams: list[str] = field(default_factory=list)
    reviewers_created: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    site_id: str = ""
    exported_by: str = ""


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def fingerprint(secret: bytes) -> str:
    """Short public fingerprint of a site secret (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(secret).hexdigest()[:FINGERPRINT_LENGTH]


def image_key(secret: bytes, sop_uid: str) -> str:
    """Pseudonymous image key 'IM-…' (the exam-key HMAC applied to the SOP Instance UID)."""
    return IMAGE_KEY_PREFIX + site.exam_key(secret, sop_uid)[len(site.EXAM_KEY_PREFIX) :]


def canonical_json(value: Any) -> bytes:
    """The bytes the signature is computed over: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sign(secret: bytes, payload: dict[str, Any]) -> str:
    return hmac.new(secret, canonical_json(payload), hashlib.sha256).hexdigest()


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: Any, what: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise PackageError(f"The package is damaged: {what} {value!r} is not a time.") from None
    return parsed.replace(tzinfo=None) if parsed.tzinfo is None else _naive_utc(parsed)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _same(a: Any, b: Any) -> bool:
    """JSON equality that keeps 1, 1.0 and True apart (like the audit store)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _shown(value: Any, reason_code: str | None = None) -> str:
    text = f"'{value}'" if isinstance(value, str) else json.dumps(value)
    return text if reason_code is None else f"{text} (reason {reason_code})"


def _write_atomic(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write to a temporary file beside ``path`` and move it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
        if private:
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


# --------------------------------------------------------------------------------------------
# reading and verifying
# --------------------------------------------------------------------------------------------


def _site_label(payload: dict[str, Any]) -> str:
    return str(payload.get("site_id") or payload.get("site_name") or "unknown site")


def read_package(path: str | os.PathLike[str], secret: bytes) -> dict[str, Any]:
    """The verified payload of a package file, or :class:`PackageError` saying what is wrong."""
    path = Path(path)
    damaged = f"{path.name} is damaged or not an AuditDesk package."
    try:  # streamed with size and item limits: a gzip bomb is refused early
        document = read_json_gzip(path, damaged)
    except RefusedInputError as exc:
        raise PackageError(str(exc)) from None
    if not isinstance(document, dict):
        raise PackageError(damaged)
    payload, signature = document.get("payload"), document.get("signature")
    if (
        not isinstance(payload, dict)
        or not isinstance(signature, str)
        or payload.get("kind") != PACKAGE_KIND
    ):
        raise PackageError(damaged)
    version = payload.get("format")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PackageError(damaged)
    if version > PACKAGE_FORMAT:
        raise PackageError(
            f"{path.name} was made by a newer AuditDesk (package format {version}); update this "
            "workstation to import it."
        )
    if payload.get("site_key_fingerprint") != fingerprint(secret):
        raise PackageError(
            f"{path.name} is from another site ({_site_label(payload)}): it was signed with "
            "another site key than this workstation's; if both belong to one site, import the "
            "site key of the exporting workstation here first (auditdesk package import-key)."
        )
    if not hmac.compare_digest(signature, sign(secret, payload)):
        raise PackageError(
            f"{path.name} was changed after it was exported (its signature does not match); "
            "ask for a new export."
        )
    _validate(payload)
    return payload


# --------------------------------------------------------------------------------------------
# import
# --------------------------------------------------------------------------------------------


class _Importer:
    """State of one package import: lookups built once, reviewers created on demand."""

    def __init__(self, session: Session, payload: dict[str, Any], report: ImportReport) -> None:
        self.session = session
        self.payload = payload
        self.report = report
        self.secret = site.site_secret(session)
        self.people: dict[str, dict[str, Any]] = payload["reviewers"]
        self.reviewer_pks: dict[str, int] = {}
        self.versions: dict[str, ChecklistVersion] = {}
        self.studies = self._study_keys({e["exam_key"] for e in payload["audits"]})
        self.images: dict[int, dict[str, str]] = {}

    def _study_keys(self, wanted: set[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for pk, uid in self.session.execute(select(Study.id, Study.study_uid)):
            key = site.exam_key(self.secret, uid)
            if key in wanted:
                found[key] = pk
        return found

    def reviewer(self, name: str | None) -> int | None:
        if name is None:
            return None
        if name in self.reviewer_pks:
            return self.reviewer_pks[name]
        row = store.get_reviewer_by_name(self.session, name)
        if row is None:
            info = self.people.get(name) or {}
            role = info.get("role") if info.get("role") in store.ROLES else "technologist"
            initials = str(info.get("initials") or "").strip()[:8] or _initials(name)
            try:
                row = store.create_reviewer(self.session, name, role, initials)
            except store.AuditError as exc:
                raise PackageError(f"Cannot add reviewer {name!r}: {exc}") from exc
            self.report.reviewers_created.append(row.name)
        self.reviewer_pks[name] = row.id
        return row.id

    def version(self, content_hash: str) -> ChecklistVersion:
        if content_hash in self.versions:
            return self.versions[content_hash]
        from auditdesk.checklists.loader import content_hash as hash_text

        info = self.payload["checklist_versions"][content_hash]
        _expect(
            hash_text(info["source_text"]) == content_hash,
            f"checklist {info['checklist_id']} {info['version']} does not match its hash",
        )
        for known in store.checklist_versions(self.session, info["checklist_id"]):
            if known.version == info["version"] and known.content_hash != content_hash:
                self.report.notes.append(
                    f"Checklist {info['checklist_id']} version {info['version']} in the package "
                    "differs from the copy of that version here; each audit keeps the text it "
                    "was made with."
                )
                break
        try:
            row = store.register_checklist_version(
                self.session,
                info["checklist_id"],
                info["version"],
                content_hash,
                info["source_text"],
                info.get("title") or info["checklist_id"],
            )
        except store.AuditError as exc:
            raise PackageError(f"Cannot store checklist {info['checklist_id']}: {exc}") from exc
        self.versions[content_hash] = row
        return row

    def resolver(self, study_pk: int) -> Callable[[str | None], str | None]:
        if study_pk not in self.images:
            uids = self.session.scalars(
                select(Image.sop_uid)
                .join(Series, Series.id == Image.series_pk)
                .where(Series.study_pk == study_pk)
            )
            self.images[study_pk] = {image_key(self.secret, uid): uid for uid in uids}
        table = self.images[study_pk]
        return lambda key: None if key is None else table.get(key)

    # ---------------------------------------------------------------- one audit
    def run(self) -> None:
        check_package_answers(self.session, self.payload, self.studies)  # before any write
        missing: list[str] = []
        for entry in self.payload["audits"]:
            study_pk = self.studies.get(entry["exam_key"])
            if study_pk is None:
                if entry["exam_key"] not in missing:
                    missing.append(entry["exam_key"])
                continue
            version = self.version(entry["checklist"])
            purpose = entry.get("purpose", DEFAULT_PURPOSE)
            reviewer_pk = self.reviewer(entry["reviewer"]["name"])
            assert reviewer_pk is not None
            query = select(Audit).where(
                Audit.study_pk == study_pk,
                Audit.reviewer_pk == reviewer_pk,
                Audit.checklist_id == version.checklist_id,
                Audit.purpose == purpose,
            )
            local = self.session.scalars(query).first()
            if local is None:
                self.add(entry, study_pk, reviewer_pk, version, purpose)
                self.report.added += 1
            elif self.merge(entry, local):
                self.report.updated += 1
            else:
                self.report.unchanged += 1
        self.report.missing_exams.extend(missing)

    def add(
        self,
        entry: dict[str, Any],
        study_pk: int,
        reviewer_pk: int,
        version: ChecklistVersion,
        purpose: str,
    ) -> None:
        from auditdesk.reading.auditing import save_computed_score

        s = self.session
        resolve = self.resolver(study_pk)
        started = _time(entry.get("started_at"), "start") or utcnow()
        updated = _time(entry.get("updated_at"), "update time") or started
        audit = Audit(
            study_pk=study_pk,
            reviewer_pk=reviewer_pk,
            checklist_version_pk=version.id,
            checklist_id=version.checklist_id,
            status=entry["status"],
            comment=entry.get("comment"),
            learning_opportunity=bool(entry.get("learning_opportunity")),
            blinded=bool(entry.get("blinded")),
            started_at=started,
            updated_at=updated,
            completed_at=_time(entry.get("completed_at"), "completion time"),
            purpose=purpose,
        )
        s.add(audit)
        s.flush()
        for a in entry.get("answers", []):
            s.add(self._answer_row(audit.id, a, reviewer_pk))
        for mm in entry.get("measurements", []):
            s.add(self._measurement_row(audit.id, mm, resolve, reviewer_pk))
        for o in entry.get("overrides", []):
            s.add(self._override_row(audit.id, o, reviewer_pk))
        for e in entry.get("events", []):
            s.add(
                AuditEvent(
                    audit_pk=audit.id,
                    reviewer_pk=self.reviewer(e.get("by")),
                    at=_time(e.get("at"), "history time") or updated,
                    kind=e["kind"],
                    key=e.get("key"),
                    old_value=_restore(e.get("old"), resolve, drop=False),
                    new_value=_restore(e.get("new"), resolve, drop=False),
                )
            )
        s.flush()
        save_computed_score(s, audit.id)
        audit.updated_at = updated
        s.flush()

    def _answer_row(self, audit_pk: int, a: dict[str, Any], default_pk: int) -> AuditAnswer:
        return AuditAnswer(
            audit_pk=audit_pk,
            key=a["key"],
            value=a["value"],
            reason_code=a.get("reason_code"),
            source=a.get("source") or "reviewer",
            answered_by=self.reviewer(a.get("answered_by")) or default_pk,
            answered_at=_time(a.get("answered_at"), "answer time") or utcnow(),
        )

    def _measurement_fields(
        self, mm: dict[str, Any], resolve: Callable[[str | None], str | None], default_pk: int
    ) -> dict[str, Any]:
        image = mm.get("image")
        return {
            "value_mm": mm.get("value_mm"),
            "value_px": float(mm["value_px"]),
            "calibration_source": mm["calibration_source"],
            "sop_uid": resolve(image.get("key")) if isinstance(image, dict) else None,
            "geometry": _restore(mm.get("geometry"), resolve, drop=True),
            "measured_by": self.reviewer(mm.get("measured_by")) or default_pk,
            "measured_at": _time(mm.get("measured_at"), "measurement time") or utcnow(),
        }

    def _measurement_row(
        self,
        audit_pk: int,
        mm: dict[str, Any],
        resolve: Callable[[str | None], str | None],
        default_pk: int,
    ) -> AuditMeasurement:
        return AuditMeasurement(
            audit_pk=audit_pk, key=mm["key"], **self._measurement_fields(mm, resolve, default_pk)
        )

    def _override_row(self, audit_pk: int, o: dict[str, Any], default_pk: int) -> AuditOverride:
        return AuditOverride(
            audit_pk=audit_pk,
            field=o["field"],
            value=o.get("value"),
            reviewer_pk=self.reviewer(o.get("by")) or default_pk,
            reason=o["reason"],
            created_at=_time(o.get("at"), "override time") or utcnow(),
        )

    # ---------------------------------------------------------------- merging
    def merge(self, entry: dict[str, Any], audit: Audit) -> bool:
        """Bring what the package adds into the local audit; True when anything changed."""
        from auditdesk.reading.auditing import save_computed_score

        s = self.session
        exam = entry["exam_key"]
        owner = self.reviewer(entry["reviewer"]["name"])
        assert owner is not None
        resolve = self.resolver(audit.study_pk)
        names = {pk: n for pk, n in s.execute(select(Reviewer.id, Reviewer.name))}
        history = {
            (e["kind"], e.get("key"), e.get("at"), e.get("by")) for e in entry.get("events", [])
        }
        conflicts: list[str] = []
        changed = False

        def event(kind: str, key: str | None, old: Any, new: Any, by: int | None, at: Any) -> None:
            s.add(
                AuditEvent(
                    audit_pk=audit.id,
                    reviewer_pk=by,
                    at=at or utcnow(),
                    kind=kind,
                    key=key,
                    old_value=old,
                    new_value=new,
                )
            )

        def earlier_state(kind: str, key: str, at: dt.datetime, by: int) -> bool:
            """The local value was written by this same audit's history in the package."""
            return (kind, key, _iso(at), names.get(by)) in history

        # answers
        local_answers = {
            r.key: r for r in s.scalars(select(AuditAnswer).where(AuditAnswer.audit_pk == audit.id))
        }
        for a in entry.get("answers", []):
            new = {
                "value": a["value"],
                "reason_code": a.get("reason_code"),
                "source": a.get("source") or "reviewer",
            }
            row = local_answers.get(a["key"])
            if row is None:
                fresh = self._answer_row(audit.id, a, owner)
                s.add(fresh)
                event("answer", a["key"], None, new, fresh.answered_by, fresh.answered_at)
                changed = True
                continue
            old = {"value": row.value, "reason_code": row.reason_code, "source": row.source}
            if _same(old, new):
                continue
            if earlier_state("answer", row.key, row.answered_at, row.answered_by):
                fresh = self._answer_row(audit.id, a, owner)
                row.value, row.reason_code, row.source = (
                    fresh.value,
                    fresh.reason_code,
                    fresh.source,
                )
                row.answered_by, row.answered_at = fresh.answered_by, fresh.answered_at
                event("answer", row.key, old, new, row.answered_by, row.answered_at)
                changed = True
                continue
            conflicts.append(
                f"Exam {exam} {row.key}: this workstation has "
                f"{_shown(row.value, row.reason_code)} ({names.get(row.answered_by, '?')}), "
                f"the package has {_shown(a['value'], a.get('reason_code'))} "
                f"({a.get('answered_by') or '?'}); kept the local answer."
            )

        # measurements
        local_measures = {
            r.key: r
            for r in s.scalars(
                select(AuditMeasurement).where(AuditMeasurement.audit_pk == audit.id)
            )
        }
        for mm in entry.get("measurements", []):
            fields = self._measurement_fields(mm, resolve, owner)
            row = local_measures.get(mm["key"])
            snapshot = {k: fields[k] for k in _MEASURE_SNAPSHOT}
            if row is None:
                s.add(AuditMeasurement(audit_pk=audit.id, key=mm["key"], **fields))
                event(
                    "measurement",
                    mm["key"],
                    None,
                    snapshot,
                    fields["measured_by"],
                    fields["measured_at"],
                )
                changed = True
                continue
            local = {k: getattr(row, k) for k in _MEASURE_SNAPSHOT}
            if _same(_scrub(local, self.secret), _scrub(snapshot, self.secret)):
                continue
            if earlier_state("measurement", row.key, row.measured_at, row.measured_by):
                for k, v in fields.items():
                    setattr(row, k, v)
                event("measurement", row.key, local, snapshot, row.measured_by, row.measured_at)
                changed = True
                continue
            conflicts.append(
                f"Exam {exam} {row.key}: this workstation has {_shown(row.value_mm)} mm "
                f"({names.get(row.measured_by, '?')}), the package has "
                f"{_shown(mm.get('value_mm'))} mm ({mm.get('measured_by') or '?'}); kept the "
                "local measurement."
            )

        # overrides: appended when newer than the local ones of the same field
        local_overrides = list(
            s.scalars(
                select(AuditOverride)
                .where(AuditOverride.audit_pk == audit.id)
                .order_by(AuditOverride.id)
            )
        )
        seen = {
            (o.field, json.dumps(o.value), o.reason, names.get(o.reviewer_pk), _iso(o.created_at))
            for o in local_overrides
        }
        newest = {o.field: o for o in local_overrides}
        for o in entry.get("overrides", []):
            when = _time(o.get("at"), "override time")
            ident = (o["field"], json.dumps(o.get("value")), o["reason"], o.get("by"), _iso(when))
            if ident in seen:
                continue
            last = newest.get(o["field"])
            if last is not None and when is not None and when <= last.created_at:
                conflicts.append(
                    f"Exam {exam}: the package overrides {o['field']} with {_shown(o.get('value'))}"
                    f" ({o.get('by') or '?'}), but this workstation has a newer override "
                    f"({_shown(last.value)}, {names.get(last.reviewer_pk, '?')}); kept the local "
                    "override."
                )
                continue
            row = self._override_row(audit.id, o, owner)
            s.add(row)
            old = None if last is None else {"value": last.value, "reason": last.reason}
            event(
                "override",
                o["field"],
                old,
                {"value": row.value, "reason": row.reason},
                row.reviewer_pk,
                row.created_at,
            )
            newest[o["field"]] = row
            seen.add(ident)
            changed = True

        # comment and learning flag
        comment = entry.get("comment")
        if comment and comment != audit.comment:
            if audit.comment:
                conflicts.append(
                    f"Exam {exam}: the comments differ (this workstation: {audit.comment!r}, the "
                    f"package: {comment!r}); kept the local comment."
                )
            else:
                event("comment", None, None, comment, owner, _time(entry.get("updated_at"), ""))
                audit.comment = comment
                changed = True
        if entry.get("learning_opportunity") and not audit.learning_opportunity:
            audit.learning_opportunity = True
            event("learning_flag", None, False, True, owner, _time(entry.get("updated_at"), ""))
            changed = True

        # status
        if entry["status"] == "complete" and audit.status != "complete":
            if conflicts:
                conflicts.append(
                    f"Exam {exam}: the package's audit by {entry['reviewer']['name']} is complete; "
                    "the one here stays in progress until the conflicts above are settled."
                )
            else:
                done = _time(entry.get("completed_at"), "completion time") or utcnow()
                event("status", None, audit.status, "complete", owner, done)
                audit.status = "complete"
                audit.completed_at = done
                changed = True

        self.report.conflicts.extend(conflicts)
        if changed:
            s.flush()
            save_computed_score(s, audit.id)
            audit.updated_at = utcnow()
            s.flush()
        return changed


_MEASURE_SNAPSHOT = ("value_mm", "value_px", "calibration_source", "sop_uid", "geometry")


def _initials(name: str) -> str:
    return "".join(part[0] for part in name.split() if part)[:8].upper() or "?"


def import_package(session: Session, path: str | os.PathLike[str]) -> ImportReport:
    """Merge a package into this workstation's database (see the module docstring).

    Run it in ``db.transaction()``: on :class:`PackageError` the caller's rollback undoes every
    change of this package. Idempotent: importing the same package again changes nothing.
    """
    payload = read_package(path, site.site_secret(session))
    report = ImportReport(
        site_id=str(payload.get("site_id") or ""),
        exported_by=", ".join((payload.get("exported_by") or {}).get("reviewers") or []),
    )
    try:
        _Importer(session, payload, report).run()
    except store.AuditError as exc:
        raise PackageError(f"The package cannot be imported: {exc}") from exc
    session.flush()
    return report


__all__ = [
    "PACKAGE_SUFFIX",
    "SITE_KEY_SUFFIX",
    "ImportReport",
    "PackageError",
    "build_payload",
    "export_package",
    "export_site_key",
    "fingerprint",
    "image_key",
    "import_package",
    "import_site_key",
    "read_package",
    "write_package",
]
