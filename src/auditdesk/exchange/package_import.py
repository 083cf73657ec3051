"""Reading, verifying and merging a reviewer package: ``read_package`` checks format, site,
signature and shape; the importer merges audits without losing a local answer; ``ImportReport``
says what happened. Separate from export because merging has its own rules (conflicts, earlier
states, idempotence) and is the larger half.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.exchange.limits import RefusedInputError, read_json_gzip
from auditdesk.exchange.package_check import DEFAULT_PURPOSE, PackageError, check_package_answers
from auditdesk.exchange.package_check import expect as _expect
from auditdesk.exchange.package_check import validate_payload as _validate
from auditdesk.exchange.package_crypto import (
    PACKAGE_FORMAT,
    PACKAGE_KIND,
    _iso,
    fingerprint,
    image_key,
    sign,
)
from auditdesk.exchange.package_export import (
    _restore,
    _scrub,
)
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
    Reviewer,
    Series,
    Study,
    utcnow,
)


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
