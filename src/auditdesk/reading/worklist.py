"""The audit worklist: which studies a reviewer still has to audit, week by week.

Why it is shaped like this:

* **Weeks follow the procedure date.** ACR reporting weeks run Sunday to Saturday by the date
  the exam was performed, never by the date it was audited (domain notes, section 1.2), so a
  late audit still counts in the exam's own week.
* **A few queries, not one per study.** Studies, their screening views / MR roles, the audits
  and the scores are each read in one query and joined in Python, so 5,000 studies list in
  well under a second (the panel refreshes after every completed audit).
* **No PHI in a row.** A row carries no patient ID, accession number, name or UID: it is what
  the worklist shows, and it may be logged or printed.
* **Other reads stay blind.** Other reviewers appear only as counts; their answers and results
  are never read here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from auditdesk.checklists.effective import apply_overrides, newest_overrides
from auditdesk.reading.exam_views import mammo_views, mr_roles
from auditdesk.reading.weeks import week_label, week_start
from auditdesk.store.catalog import _overrides as classification_overrides
from auditdesk.store.models import Audit, AuditOverride, AuditScore, Study
from auditdesk.store.view_confirm import labels_to_confirm

STATUS_TODO = "to do"
STATUS_IN_PROGRESS = "in progress"
STATUS_COMPLETE = "complete"
#: Filter values of :attr:`WorklistFilter.status`.
FILTER_STATUSES = ("all", "todo", "in_progress", "done")

#: Checklist modality (DICOM) -> study kind.
MODALITY_KINDS = {"MG": "mammo", "MR": "mr"}


@dataclass
class WorklistRow:
    """One study as the worklist shows it to one reviewer (no patient identifiers)."""

    study_pk: int
    procedure_date: dt.date | None
    week_start: dt.date | None
    kind: str
    exam_label: str
    views: str
    technologist: str | None
    my_status: str
    my_checklist_id: str | None
    my_meets_criteria: bool | None
    n_reviews: int
    reviewers: int
    has_audit_by_others: bool
    my_not_evaluable: bool = False  # my audit could not judge the exam (N/A rule)
    # Studies this one is suggested to be merged with (auditdesk.store.study_suggestions); set by
    # the caller that lists the studies anyway, never merged silently.
    merge_with: tuple[int, ...] = ()
    sampled: bool = False  # in the current audit sample of its week
    second_reader: bool = False  # the sample names this reviewer as its second reader
    assigned_to_me: bool = False  # the sample names this reviewer (primary or second)
    to_confirm: str = ""  # labels of guessed views not yet confirmed ("LCC RMLO"), issue 13


@dataclass
class WorklistFilter:
    """What the reviewer asked to see; ``None`` / ``"all"`` means no restriction."""

    status: str = "all"  # all, todo (not complete yet), in_progress, done
    mine_only: bool = False  # only studies I have an audit of
    week: dt.date | None = None  # any day of a Sunday-Saturday week
    technologist: str | None = None
    checklist_id: str | None = None
    kind: str | None = None
    sample_only: bool = False  # only studies in their week's audit sample


def installed_checklist_modalities() -> dict[str, str]:
    """Checklist id -> modality ("MG"/"MR") of the installed checklists (highest version)."""
    from auditdesk.checklists.loader import load_all

    return {c.id: c.modality for c in load_all().latest()}


def _kind_for_checklist(checklist_id: str, mapping: dict[str, str] | None) -> str | None:
    """The study kind a checklist audits; None when the checklist is unknown."""
    if mapping is None:
        mapping = installed_checklist_modalities()
    modality = mapping.get(checklist_id)
    if modality is None:
        return None
    return MODALITY_KINDS.get(modality.upper(), modality.lower())


def _study_query(flt: WorklistFilter, kind: str | None) -> Select[Any]:
    """Studies matching the filters that SQL can apply (kind, week, technologist)."""
    query = select(Study.id)
    if kind:
        query = query.where(Study.kind == kind)
    if flt.week is not None:
        start = week_start(flt.week)
        query = query.where(
            Study.procedure_date >= start, Study.procedure_date <= start + dt.timedelta(days=6)
        )
    if flt.technologist:
        query = query.where(func.trim(Study.technologist) == flt.technologist)
    return query


def _exam_label(kind: str, views: str, description: str | None, modalities: str | None) -> str:
    if kind == "mammo":
        n = len(views.split())
        return f"Mammo {n}-view" if n else "Mammo"
    if kind == "mr":
        return "Prostate MR"
    return (description or modalities or "Other").strip()


def _my_meets_criteria(
    session: Session, audit_pks: list[int]
) -> tuple[dict[int, bool | None], set[int]]:
    """Effective meets_criteria of each audit: its newest current score under its own checklist
    version, replaced by the newest override (as ``audits.audit_state`` reports it); and the
    audits whose score says the exam is not evaluable (without an override)."""
    if not audit_pks:
        return {}, set()
    result: dict[int, bool | None] = {}
    not_evaluable: set[int] = set()
    scores = session.execute(
        select(
            AuditScore.audit_pk,
            AuditScore.meets_criteria,
            AuditScore.result["evaluable"].as_boolean(),
        )
        .join(Audit, Audit.id == AuditScore.audit_pk)
        .where(
            AuditScore.audit_pk.in_(audit_pks),
            AuditScore.is_current.is_(True),
            AuditScore.checklist_version_pk == Audit.checklist_version_pk,
        )
        .order_by(AuditScore.id)
    )
    for audit_pk, meets, evaluable in scores:
        result[audit_pk] = meets
        if evaluable is False:
            not_evaluable.add(audit_pk)
        else:
            not_evaluable.discard(audit_pk)
    newest = newest_overrides(
        session.execute(
            select(AuditOverride.audit_pk, AuditOverride.field, AuditOverride.value)
            .where(AuditOverride.audit_pk.in_(audit_pks), AuditOverride.field == "meets_criteria")
            .order_by(AuditOverride.id)
        )
    )
    for audit_pk, fields in newest.items():
        verdict = apply_overrides(result.get(audit_pk), None, fields)
        if verdict.overridden:  # a withdrawn override (None): back to the computed result
            result[audit_pk] = verdict.meets_criteria
            not_evaluable.discard(audit_pk)
    return result, not_evaluable


def list_worklist(
    session: Session,
    reviewer_pk: int | None,
    flt: WorklistFilter,
    *,
    checklist_modalities: dict[str, str] | None = None,
) -> list[WorklistRow]:
    """The studies ``reviewer_pk`` sees under ``flt``, newest procedure date first.

    Without a checklist filter, "my status" looks at all my audits of the study: in progress if
    any is unfinished, else complete if any is complete, else to do. With one, only my audit with
    that checklist counts, and only studies whose kind fits the checklist's modality are listed
    (``checklist_modalities`` maps checklist id -> "MG"/"MR"; default: the installed ones).
    ``reviewer_pk=None`` (nobody chosen yet) shows everything as to do.
    """
    kind = flt.kind
    if flt.checklist_id and checklist_modalities is None:
        checklist_modalities = installed_checklist_modalities()
    if flt.checklist_id:
        fit = _kind_for_checklist(flt.checklist_id, checklist_modalities)
        if fit is not None:
            if kind and kind != fit:
                return []
            kind = fit
    study_ids = _study_query(flt, kind)

    studies = session.execute(
        select(
            Study.id,
            Study.procedure_date,
            Study.kind,
            Study.description,
            Study.modalities,
            Study.technologist,
        ).where(Study.id.in_(study_ids))
    ).all()
    if not studies:
        return []
    overrides = classification_overrides(session)
    views = mammo_views(session, study_ids, overrides)
    views.update(mr_roles(session, study_ids, overrides))
    unconfirmed = labels_to_confirm(session, study_ids, overrides)

    # Reads only: a coach's consensus or calibration reference audit (auditdesk.review.adjudication)
    # is not the coach's own read of the exam and is no extra review.
    audit_query = select(
        Audit.id, Audit.study_pk, Audit.reviewer_pk, Audit.checklist_id, Audit.status
    ).where(Audit.study_pk.in_(study_ids), Audit.purpose == "review")
    if flt.checklist_id:
        audit_query = audit_query.where(Audit.checklist_id == flt.checklist_id)
    complete_counts: dict[int, int] = defaultdict(int)
    others: dict[int, set[int]] = defaultdict(set)
    mine: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for audit_pk, study_pk, rev_pk, checklist_id, status in session.execute(
        audit_query.order_by(Audit.id)
    ):
        if status == "complete":
            complete_counts[study_pk] += 1
        if reviewer_pk is not None and rev_pk == reviewer_pk:
            mine[study_pk].append((audit_pk, checklist_id, status))
        else:
            others[study_pk].add(rev_pk)

    chosen: dict[int, tuple[int, str, str]] = {}
    for study_pk, audits in mine.items():
        unfinished = [a for a in audits if a[2] != "complete"]
        chosen[study_pk] = (unfinished or audits)[-1]  # newest of the deciding kind
    meets, not_evaluable = _my_meets_criteria(session, [a[0] for a in chosen.values()])

    assignments = sample_assignments(session)
    rows: list[WorklistRow] = []
    for pk, date, study_kind, description, modalities, technologist in studies:
        mine_audit = chosen.get(pk)
        if mine_audit is None:
            status = STATUS_TODO
        elif mine_audit[2] == "complete":
            status = STATUS_COMPLETE
        else:
            status = STATUS_IN_PROGRESS
        study_views = views.get(pk, "")
        rows.append(
            WorklistRow(
                study_pk=pk,
                procedure_date=date,
                week_start=week_start(date) if date else None,
                kind=study_kind,
                exam_label=_exam_label(study_kind, study_views, description, modalities),
                views=study_views,
                technologist=(technologist or "").strip() or None,
                my_status=status,
                my_checklist_id=mine_audit[1] if mine_audit else None,
                my_meets_criteria=meets.get(mine_audit[0]) if mine_audit else None,
                my_not_evaluable=bool(mine_audit) and mine_audit[0] in not_evaluable,
                n_reviews=complete_counts.get(pk, 0),
                reviewers=len(others.get(pk, ())),
                has_audit_by_others=bool(others.get(pk)),
                sampled=pk in assignments,
                second_reader=reviewer_pk is not None
                and assignments.get(pk, (None, None))[1] == reviewer_pk,
                assigned_to_me=reviewer_pk is not None
                and reviewer_pk in assignments.get(pk, (None, None)),
                to_confirm=" ".join(unconfirmed.get(pk, ())),
            )
        )
    rows = filter_rows(rows, flt, checklist_modalities=checklist_modalities)
    return sort_rows(rows)


def sort_rows(rows: Iterable[WorklistRow]) -> list[WorklistRow]:
    """Newest procedure date first; undated studies last; ties by study id (import order)."""
    return sorted(
        rows,
        key=lambda r: (
            r.procedure_date is None,
            -(r.procedure_date.toordinal() if r.procedure_date else 0),
            r.study_pk,
        ),
    )


def filter_rows(
    rows: Iterable[WorklistRow],
    flt: WorklistFilter,
    *,
    checklist_modalities: dict[str, str] | None = None,
) -> list[WorklistRow]:
    """Apply ``flt`` to rows already listed, so a panel can query once and filter many ways.

    The checklist filter restricts the kind here; "done with that checklist" needs the rows to
    have been listed with the same checklist filter (``my_checklist_id`` is compared).
    """
    kind = flt.kind
    if flt.checklist_id:
        fit = _kind_for_checklist(flt.checklist_id, checklist_modalities)
        if fit is not None:
            if kind and kind != fit:
                return []
            kind = fit
    week = week_start(flt.week) if flt.week is not None else None
    out = []
    for row in rows:
        if kind and row.kind != kind:
            continue
        if week is not None and row.week_start != week:
            continue
        if flt.technologist and row.technologist != flt.technologist:
            continue
        if flt.sample_only and not row.sampled:
            continue
        mine = row.my_status != STATUS_TODO
        if flt.checklist_id and mine and row.my_checklist_id != flt.checklist_id:
            mine = False
        if flt.mine_only and not mine:
            continue
        status = row.my_status if mine else STATUS_TODO
        if flt.status == "todo" and status == STATUS_COMPLETE:
            continue
        if flt.status == "in_progress" and status != STATUS_IN_PROGRESS:
            continue
        if flt.status == "done" and status != STATUS_COMPLETE:
            continue
        out.append(row)
    return out


def week_progress(rows: Iterable[WorklistRow]) -> dict[dt.date, tuple[int, int]]:
    """Per week (its Sunday): (studies complete by me, studies in the week), newest week first."""
    done: dict[dt.date, int] = defaultdict(int)
    total: dict[dt.date, int] = defaultdict(int)
    for row in rows:
        if row.week_start is None:
            continue
        total[row.week_start] += 1
        if row.my_status == STATUS_COMPLETE:
            done[row.week_start] += 1
    return {w: (done[w], total[w]) for w in sorted(total, reverse=True)}


def sample_assignments(session: Session) -> dict[int, tuple[int | None, int | None]]:
    """Study -> (primary, second reviewer) for every study in a current weekly sample (one
    query): the worklist marks the week's sample and the exams a reviewer reads a second time.
    """
    from auditdesk.qi import sampling  # sampling builds on this module

    return sampling.assignment_map(session)


def sample_progress(rows: Iterable[WorklistRow], week: dt.date) -> tuple[int, int] | None:
    """(sampled studies complete by me, sampled studies) in the week of ``week``; when the
    sample assigns some of them to me, only those count. None when the week has no sample."""
    start = week_start(week)
    sampled = [r for r in rows if r.sampled and r.week_start == start]
    if not sampled:
        return None
    mine = [r for r in sampled if r.assigned_to_me] or sampled
    return sum(r.my_status == STATUS_COMPLETE for r in mine), len(mine)


def technologists(rows: Iterable[WorklistRow]) -> list[str]:
    """Distinct technologists (as written in the headers), sorted case-insensitively."""
    names = {r.technologist for r in rows if r.technologist}
    return sorted(names, key=lambda n: (n.casefold(), n))


__all__ = [
    "FILTER_STATUSES",
    "MODALITY_KINDS",
    "STATUS_COMPLETE",
    "STATUS_IN_PROGRESS",
    "STATUS_TODO",
    "WorklistFilter",
    "WorklistRow",
    "filter_rows",
    "installed_checklist_modalities",
    "list_worklist",
    "sample_assignments",
    "sample_progress",
    "sort_rows",
    "technologists",
    "week_label",
    "week_progress",
    "week_start",
]
