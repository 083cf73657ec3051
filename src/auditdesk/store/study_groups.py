"""Merge and split studies, keep every change in history, and undo it (issue 13). Where the
index files an image afterwards (so re-importing the same files keeps the grouping) is
``store.study_uid_map``, filled here.

Why rows move instead of being hidden: the measure, the worklist, sampling and exports all count
``studies`` rows, so a merged exam must be ONE row (one procedure date, one technologist) and the
originals must be gone, not flagged. Everything an undo needs (the original studies' fields,
which series, images, audits and sampled items moved) is kept in the grouping's ``detail``.

New Study/Series UIDs are derived from the UIDs involved (UUID-derived ``2.25.`` UIDs), so two
workstations that merge the same studies get the same exam key in exports and packages.

Audits follow the merged study. If two of the studies to merge hold audits by the same reviewer
with the same checklist and purpose, the merge is refused (one database row may hold only one
such audit, and choosing one would silently drop a reviewer's answers). A split leaves the
audits on the study that keeps its UID. An undo refuses while the merged or split-off study holds
audits made after the change (they judged the grouped exam; none of the originals is that exam).

Patient IDs and accession numbers are compared here but never put in a message.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from auditdesk.store.models import (
    Audit,
    CalibrationItem,
    CalibrationSet,
    Image,
    Patient,
    Reviewer,
    SampleItem,
    SamplePlan,
    Series,
    Study,
    StudyGrouping,
    StudyUidMap,
    utcnow,
)
from auditdesk.store.study_uid_map import (
    UidResolver,
    derived_uid,
    load_resolver,
    normalized_patient_id,
)

__all__ = [
    "GroupingError",
    "GroupingResult",
    "HistoryRow",
    "UidResolver",
    "derived_uid",
    "history",
    "load_resolver",
    "merge_studies",
    "normalized_patient_id",
    "split_study",
    "undo_for_study",
    "undo_grouping",
]

_KIND_RANK = {"mammo": 2, "mr": 1, "other": 0}


class GroupingError(ValueError):
    """A merge, split or undo that cannot be done; the message says why in one sentence."""


@dataclass
class GroupingResult:
    grouping_id: int
    study_id: int  # the merged study, the split-off study, or (undo) the first restored one
    notes: list[str] = field(default_factory=list)


@dataclass
class HistoryRow:
    """One merge or split as listed to users (study ids and dates, no patient data)."""

    id: int
    action: str
    reviewer: str
    reason: str | None
    created_at: dt.datetime
    source_study_ids: list[int | None]
    result_study_id: int | None
    n_images: int
    undone_at: dt.datetime | None
    undone_by: str | None
    undo_reason: str | None

    @property
    def active(self) -> bool:
        return self.undone_at is None


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _snapshot(study: Study) -> dict[str, Any]:
    return {
        "study_uid": study.study_uid,
        "study_id": study.id,
        "patient_pk": study.patient_pk,
        "accession_number": study.accession_number,
        "procedure_date": _iso(study.procedure_date),
        "procedure_datetime": _iso(study.procedure_datetime),
        "description": study.description,
        "kind": study.kind,
        "modalities": study.modalities,
        "technologist": study.technologist,
        "created_at": _iso(study.created_at),
    }


def _from_snapshot(snap: dict[str, Any]) -> Study:
    def date(v: str | None) -> dt.date | None:
        return dt.date.fromisoformat(v) if v else None

    def when(v: str | None) -> dt.datetime | None:
        return dt.datetime.fromisoformat(v) if v else None

    return Study(
        study_uid=snap["study_uid"],
        patient_pk=snap["patient_pk"],
        accession_number=snap["accession_number"],
        procedure_date=date(snap["procedure_date"]),
        procedure_datetime=when(snap["procedure_datetime"]),
        description=snap["description"],
        kind=snap["kind"],
        modalities=snap["modalities"],
        technologist=snap["technologist"],
        created_at=when(snap["created_at"]) or utcnow(),
    )


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in ids)


def _audit_label(session: Session, audit: Audit) -> str:
    reviewer = session.get(Reviewer, audit.reviewer_pk)
    name = reviewer.name if reviewer else f"reviewer {audit.reviewer_pk}"
    return f"audit {audit.id} (study {audit.study_pk}, {name}, {audit.checklist_id})"


def _image_count(session: Session, study_pk: int) -> int:
    return len(
        session.scalars(
            select(Image.id)
            .join(Series, Image.series_pk == Series.id)
            .where(Series.study_pk == study_pk)
        ).all()
    )


def _study_by_uid(session: Session, uid: str) -> Study | None:
    return session.scalar(select(Study).where(Study.study_uid == uid))


def _check_items_unique(
    session: Session, study_pks: list[int], model: type[SampleItem] | type[CalibrationItem]
) -> None:
    """Two studies of one sample plan (or calibration set) cannot become one exam silently:
    the plan drew them as two exams."""
    parent = SampleItem.plan_pk if model is SampleItem else CalibrationItem.set_pk
    rows = session.execute(select(parent, model.study_pk).where(model.study_pk.in_(study_pks)))
    seen: dict[int, list[int]] = {}
    for parent_pk, study_pk in rows:
        seen.setdefault(parent_pk, []).append(study_pk)
    for parent_pk, pks in seen.items():
        if len(pks) > 1:
            if model is SampleItem:
                plan = session.get(SamplePlan, parent_pk)
                what = f"the sample of week {plan.week_start.isoformat() if plan else '?'}"
            else:
                cal = session.get(CalibrationSet, parent_pk)
                what = f"calibration set {cal.name if cal else parent_pk!r}"
            raise GroupingError(
                f"Studies {_ids(sorted(pks))} are both in {what}; remove one of them from it "
                "(or redraw the week) before merging."
            )


def _move_items(session: Session, from_pks: list[int], to_pk: int) -> dict[str, list[list[int]]]:
    """Point audits and sampled/calibration items at ``to_pk``; returns [row id, old study id]
    pairs per table so an undo can put each one back."""
    moved: dict[str, list[list[int]]] = {}
    for name, model in (("audits", Audit), ("sample_items", SampleItem),
                        ("calibration_items", CalibrationItem)):  # fmt: skip
        pairs = [
            [row_id, study_pk]
            for row_id, study_pk in session.execute(
                select(model.id, model.study_pk).where(model.study_pk.in_(from_pks))
            )
        ]
        if pairs:
            session.execute(
                update(model).where(model.study_pk.in_(from_pks)).values(study_pk=to_pk)
            )
        moved[name] = pairs
    return moved


def _refuse_new_audits(session: Session, study_pk: int, known: set[int], what: str) -> None:
    extra = session.scalars(
        select(Audit).where(Audit.study_pk == study_pk, Audit.id.not_in(known or {-1}))
    ).all()
    if extra:
        labels = "; ".join(_audit_label(session, a) for a in extra)
        raise GroupingError(
            f"Cannot undo: {what} has audits made after the change ({labels}); they judged the "
            "grouped exam and none of the original studies is that exam."
        )


def _grouping_for(session: Session, grouping_id: int) -> StudyGrouping:
    grouping = session.get(StudyGrouping, grouping_id)
    if grouping is None:
        raise GroupingError(f"No merge or split with id {grouping_id}; see 'studies history'.")
    if grouping.undone_at is not None:
        raise GroupingError(
            f"{grouping.action.title()} {grouping_id} was already undone on "
            f"{grouping.undone_at:%Y-%m-%d %H:%M} by {grouping.undone_by}."
        )
    return grouping


def _involved(grouping: StudyGrouping) -> set[str]:
    detail = grouping.detail or {}
    uids = {grouping.result_study_uid}
    uids.update(s["study_uid"] for s in detail.get("sources", []))
    return uids


def _reviewer_name(reviewer: str) -> str:
    if not reviewer or not reviewer.strip():
        raise GroupingError("A merge, split or undo needs the reviewer's name.")
    return reviewer.strip()


# --------------------------------------------------------------------------------------------
# Merge
# --------------------------------------------------------------------------------------------


def merge_studies(
    session: Session,
    study_ids: list[int],
    *,
    reviewer: str,
    reason: str | None = None,
    force: bool = False,
) -> GroupingResult:
    """Merge ``study_ids`` into one new study holding all their series, audits and sampled items.

    Refused (one sentence) when the studies differ in procedure date, patient (and accession)
    or kind, unless ``force``: a merged exam has one date and one patient. The earliest date and
    the technologist of most images are kept.
    """
    reviewer = _reviewer_name(reviewer)
    ids = list(dict.fromkeys(study_ids))
    if len(ids) < 2:
        raise GroupingError("A merge needs at least two different study ids.")
    studies = [session.get(Study, i) for i in ids]
    missing = [i for i, s in zip(ids, studies, strict=True) if s is None]
    if missing:
        raise GroupingError(f"No study with id {_ids(missing)} in the database.")
    found: list[Study] = sorted((s for s in studies if s is not None), key=lambda s: s.id)
    pks = [s.id for s in found]

    problems = []
    dates = sorted({s.procedure_date for s in found if s.procedure_date is not None})
    if len(dates) > 1:
        problems.append("different procedure dates (" + ", ".join(map(str, dates)) + ")")
    patients = {
        normalized_patient_id(session.get(Patient, s.patient_pk).patient_id)  # type: ignore[union-attr]
        if s.patient_pk is not None
        else None
        for s in found
    }
    accessions = {(s.accession_number or "").strip() or None for s in found}
    if len(patients) > 1 and (len(accessions) > 1 or None in accessions):
        problems.append("different patients")
    kinds = {s.kind for s in found}
    if len(kinds) > 1:
        problems.append("different kinds (" + ", ".join(sorted(kinds)) + ")")
    if problems and not force:
        raise GroupingError(
            f"Studies {_ids(pks)} have {' and '.join(problems)}; a merged exam has one date and "
            "one patient. Merge anyway only if the headers are wrong (--force, or 'Merge "
            "anyway' in the dialog)."
        )

    audits = session.scalars(select(Audit).where(Audit.study_pk.in_(pks))).all()
    by_key: dict[tuple[int, str, str], list[Audit]] = {}
    for audit in audits:
        by_key.setdefault((audit.reviewer_pk, audit.checklist_id, audit.purpose), []).append(audit)
    clashes = [group for group in by_key.values() if len(group) > 1]
    if clashes:
        text = "; ".join(" and ".join(_audit_label(session, a) for a in g) for g in clashes)
        raise GroupingError(
            f"Merge refused: {text} would become two audits of one exam by the same reviewer "
            "with the same checklist, and one exam holds one such audit; leave one of those "
            "studies out of the merge (its audit stays with it)."
        )
    _check_items_unique(session, pks, SampleItem)
    _check_items_unique(session, pks, CalibrationItem)

    sources = []
    for s in found:
        snap = _snapshot(s)
        snap["series_uids"] = list(
            session.scalars(select(Series.series_uid).where(Series.study_pk == s.id))
        )
        snap["n_images"] = _image_count(session, s.id)
        sources.append(snap)
    new_uid = derived_uid("merge", *sorted(s.study_uid for s in found))
    if _study_by_uid(session, new_uid) is not None:
        raise GroupingError(f"Studies {_ids(pks)} are already merged.")

    techs = Counter[str]()
    for snap, s in zip(sources, found, strict=True):
        if s.technologist:
            techs[s.technologist] += max(1, snap["n_images"])
    first = found[0]
    datetimes = [s.procedure_datetime for s in found if s.procedure_datetime is not None]
    modalities: set[str] = set()
    for s in found:
        modalities.update(filter(None, (s.modalities or "").split("\\")))
    merged = Study(
        study_uid=new_uid,
        patient_pk=first.patient_pk,
        accession_number=next((s.accession_number for s in found if s.accession_number), None),
        procedure_date=dates[0] if dates else None,
        procedure_datetime=min(datetimes) if datetimes else None,
        description=next((s.description for s in found if s.description), None),
        kind=max(kinds, key=lambda k: _KIND_RANK.get(k, 0)),
        modalities="\\".join(sorted(modalities))[:64] or None,
        technologist=techs.most_common(1)[0][0] if techs else None,
    )
    session.add(merged)
    session.flush()
    notes = []
    if len(techs) > 1:
        notes.append(
            f"The studies name {len(techs)} technologists; the merged exam keeps the one of "
            "most images (correct it in the technologist list if that is wrong)."
        )
    session.execute(update(Series).where(Series.study_pk.in_(pks)).values(study_pk=merged.id))
    moved = _move_items(session, pks, merged.id)
    session.execute(delete(Study).where(Study.id.in_(pks)))
    grouping = StudyGrouping(
        action="merge",
        result_study_uid=new_uid,
        reviewer=reviewer,
        reason=(reason or "").strip() or None,
        detail={"sources": sources, "moved": moved, "result_study_id": merged.id},
    )
    session.add(grouping)
    session.flush()
    for s in found:
        session.add(
            StudyUidMap(
                grouping_pk=grouping.id, kind="study", source_uid=s.study_uid, study_uid=new_uid
            )
        )
    session.flush()
    session.expire_all()
    return GroupingResult(grouping.id, merged.id, notes)


# --------------------------------------------------------------------------------------------
# Split
# --------------------------------------------------------------------------------------------


def split_study(
    session: Session,
    study_id: int,
    image_ids: list[int],
    *,
    reviewer: str,
    reason: str | None = None,
) -> GroupingResult:
    """Move ``image_ids`` of ``study_id`` into a new study (the second exam of a study that held
    two). Audits stay on ``study_id``; a series split between the two exams becomes two series."""
    reviewer = _reviewer_name(reviewer)
    study = session.get(Study, study_id)
    if study is None:
        raise GroupingError(f"No study with id {study_id} in the database.")
    wanted = list(dict.fromkeys(image_ids))
    if not wanted:
        raise GroupingError("A split needs the ids of the images that form the other exam.")
    rows = session.execute(
        select(Image, Series)
        .join(Series, Image.series_pk == Series.id)
        .where(Series.study_pk == study_id)
    ).all()
    in_study = {img.id: (img, series) for img, series in rows}
    strangers = [i for i in wanted if i not in in_study]
    if strangers:
        raise GroupingError(
            f"Image {_ids(strangers)} is not in study {study_id}; see 'studies --images'."
        )
    if len(wanted) == len(in_study):
        raise GroupingError(
            f"Those are all {len(in_study)} images of study {study_id}; leave at least one "
            "image in it."
        )

    moving = [in_study[i] for i in wanted]
    new_uid = derived_uid("split", *sorted(img.sop_uid for img, _ in moving))
    if _study_by_uid(session, new_uid) is not None:
        raise GroupingError(f"Those images of study {study_id} were already split off.")
    days = sorted(
        {img.acquisition_datetime.date() for img, _ in moving if img.acquisition_datetime}
    )
    times = sorted(img.acquisition_datetime for img, _ in moving if img.acquisition_datetime)
    new = Study(
        study_uid=new_uid,
        patient_pk=study.patient_pk,
        accession_number=study.accession_number,
        procedure_date=days[0] if days else study.procedure_date,
        procedure_datetime=times[0] if times else study.procedure_datetime,
        description=study.description,
        kind=study.kind,
        modalities="\\".join(sorted({s.modality for _, s in moving if s.modality}))[:64]
        or study.modalities,
        technologist=study.technologist,
    )
    session.add(new)
    session.flush()

    by_series: dict[int, list[Image]] = {}
    for img, series in moving:
        by_series.setdefault(series.id, []).append(img)
    whole, derived, image_moves = [], [], []
    maps: list[tuple[str, str | None]] = []
    for series_pk, images in by_series.items():
        series = session.get(Series, series_pk)
        assert series is not None
        total = sum(1 for _, s in in_study.values() if s.id == series_pk)
        if len(images) == total:
            series.study_pk = new.id
            whole.append(series.series_uid)
            maps += [(img.sop_uid, None) for img in images]
            continue
        copy = Series(
            series_uid=derived_uid("split-series", series.series_uid, new_uid),
            study_pk=new.id,
            modality=series.modality,
            series_number=series.series_number,
            description=series.description,
            manufacturer=series.manufacturer,
            model=series.model,
            presentation_intent=series.presentation_intent,
            mr_role=series.mr_role,
            mr_info=series.mr_info,
        )
        session.add(copy)
        session.flush()
        derived.append(copy.series_uid)
        for img in images:
            img.series_pk = copy.id
            image_moves.append([img.sop_uid, series.series_uid])
            maps.append((img.sop_uid, copy.series_uid))
    grouping = StudyGrouping(
        action="split",
        result_study_uid=new_uid,
        reviewer=reviewer,
        reason=(reason or "").strip() or None,
        detail={
            "sources": [_snapshot(study)],
            "whole_series": whole,
            "derived_series": derived,
            "image_moves": image_moves,
            "n_images": len(moving),
            "result_study_id": new.id,
        },
    )
    session.add(grouping)
    session.flush()
    for sop_uid, series_uid in maps:
        session.add(
            StudyUidMap(
                grouping_pk=grouping.id,
                kind="image",
                source_uid=sop_uid,
                study_uid=new_uid,
                series_uid=series_uid,
            )
        )
    session.flush()
    notes = []
    n_audits = len(session.scalars(select(Audit.id).where(Audit.study_pk == study_id)).all())
    if n_audits:
        notes.append(
            f"{n_audits} audit(s) stay on study {study_id}; the new study {new.id} has none."
        )
    session.expire_all()
    return GroupingResult(grouping.id, new.id, notes)


# --------------------------------------------------------------------------------------------
# Undo
# --------------------------------------------------------------------------------------------


def _original_study_uid(image: Image) -> str | None:
    """Study Instance UID in an image's own header (for series that joined a merged study
    after the merge); None when the file cannot be read."""
    try:
        from auditdesk.dicom.headers import read_header
        from auditdesk.dicom.sources import Location, open_location

        with open_location(Location(image.path, image.archive_member)) as fp:
            return str(read_header(fp).StudyInstanceUID)
    except Exception:  # an unreadable file must not stop the undo: the caller notes it
        return None


def _undo_merge(session: Session, grouping: StudyGrouping) -> tuple[int, list[str]]:
    detail = grouping.detail
    merged = _study_by_uid(session, grouping.result_study_uid)
    if merged is None:
        raise GroupingError(f"The merged study of merge {grouping.id} is no longer indexed.")
    moved = detail.get("moved", {})
    known_audits = {pair[0] for pair in moved.get("audits", [])}
    _refuse_new_audits(session, merged.id, known_audits, f"merged study {merged.id}")
    notes: list[str] = []
    restored: dict[str, Study] = {}
    old_to_new: dict[int, int] = {}
    for snap in detail["sources"]:
        if _study_by_uid(session, snap["study_uid"]) is not None:
            raise GroupingError(
                f"Study {snap['study_id']} of merge {grouping.id} exists again; it cannot be "
                "restored twice."
            )
        study = _from_snapshot(snap)
        session.add(study)
        session.flush()
        restored[snap["study_uid"]] = study
        old_to_new[snap["study_id"]] = study.id
    first = restored[detail["sources"][0]["study_uid"]]
    series_home = {
        uid: restored[snap["study_uid"]].id
        for snap in detail["sources"]
        for uid in snap["series_uids"]
    }
    for series in session.scalars(select(Series).where(Series.study_pk == merged.id)).all():
        home = series_home.get(series.series_uid)
        if home is None:  # arrived after the merge: its own header says where it came from
            image = session.scalar(select(Image).where(Image.series_pk == series.id).limit(1))
            uid = _original_study_uid(image) if image is not None else None
            home = restored[uid].id if uid in restored else first.id
            if uid not in restored:
                notes.append(
                    f"Series {series.id} joined after the merge and its original study is "
                    f"unknown; it goes to study {first.id}."
                )
        series.study_pk = home
    for name, model in (("audits", Audit), ("sample_items", SampleItem),
                        ("calibration_items", CalibrationItem)):  # fmt: skip
        back = {row_id: old_to_new.get(old, first.id) for row_id, old in moved.get(name, [])}
        for row in session.scalars(select(model).where(model.study_pk == merged.id)).all():
            target = back.get(row.id, first.id)
            if row.id not in back:
                notes.append(
                    f"{name.replace('_', ' ')[:-1].capitalize()} {row.id} was added after the "
                    f"merge; it now points at study {first.id}."
                )
            row.study_pk = target
    session.flush()
    session.execute(delete(Study).where(Study.id == merged.id))
    return first.id, notes


def _undo_split(session: Session, grouping: StudyGrouping) -> tuple[int, list[str]]:
    detail = grouping.detail
    snap = detail["sources"][0]
    original = _study_by_uid(session, snap["study_uid"])
    new = _study_by_uid(session, grouping.result_study_uid)
    if original is None or new is None:
        raise GroupingError(f"A study of split {grouping.id} is no longer indexed.")
    _refuse_new_audits(session, new.id, set(), f"split-off study {new.id}")
    notes: list[str] = []
    series_pk = {
        uid: pk
        for uid, pk in session.execute(
            select(Series.series_uid, Series.id).where(Series.study_pk.in_([original.id, new.id]))
        )
    }
    for sop_uid, series_uid in detail.get("image_moves", []):
        if series_uid in series_pk:
            session.execute(
                update(Image)
                .where(Image.sop_uid == sop_uid)
                .values(series_pk=series_pk[series_uid])
            )
    session.execute(update(Series).where(Series.study_pk == new.id).values(study_pk=original.id))
    session.flush()
    for uid in detail.get("derived_series", []):
        pk = series_pk.get(uid)
        if pk is not None and session.scalar(select(Image.id).where(Image.series_pk == pk)) is None:
            session.execute(delete(Series).where(Series.id == pk))
    _check_items_unique(session, [original.id, new.id], SampleItem)
    _check_items_unique(session, [original.id, new.id], CalibrationItem)
    for model in (SampleItem, CalibrationItem):
        for row in session.scalars(select(model).where(model.study_pk == new.id)).all():
            row.study_pk = original.id
            notes.append(
                f"Study {new.id} was sampled or in a calibration set; that entry now points at "
                f"study {original.id}, which holds its images again."
            )
    session.flush()
    session.execute(delete(Study).where(Study.id == new.id))
    return original.id, notes


def undo_grouping(
    session: Session, grouping_id: int, *, reviewer: str, reason: str | None = None
) -> GroupingResult:
    """Undo a merge (restore the original studies, their series and audits) or a split (put the
    images back). Only the newest change of the studies involved can be undone."""
    reviewer = _reviewer_name(reviewer)
    grouping = _grouping_for(session, grouping_id)
    later = session.scalars(
        select(StudyGrouping).where(
            StudyGrouping.id > grouping.id, StudyGrouping.undone_at.is_(None)
        )
    ).all()
    blocking = [g.id for g in later if _involved(g) & _involved(grouping)]
    if blocking:
        raise GroupingError(
            f"Undo {_ids(blocking)} first: it changed the same studies after "
            f"{grouping.action} {grouping.id}."
        )
    if grouping.action == "merge":
        study_id, notes = _undo_merge(session, grouping)
    else:
        study_id, notes = _undo_split(session, grouping)
    session.execute(delete(StudyUidMap).where(StudyUidMap.grouping_pk == grouping.id))
    grouping.undone_at = utcnow()
    grouping.undone_by = reviewer
    grouping.undo_reason = (reason or "").strip() or None
    session.flush()
    session.expire_all()
    return GroupingResult(grouping.id, study_id, notes)


def undo_for_study(
    session: Session, study_id: int, action: str, *, reviewer: str, reason: str | None = None
) -> GroupingResult:
    """Undo the active ``action`` ("merge" or "split") that made study ``study_id``."""
    study = session.get(Study, study_id)
    if study is None:
        raise GroupingError(f"No study with id {study_id} in the database.")
    grouping = session.scalar(
        select(StudyGrouping)
        .where(
            StudyGrouping.action == action,
            StudyGrouping.result_study_uid == study.study_uid,
            StudyGrouping.undone_at.is_(None),
        )
        .order_by(StudyGrouping.id.desc())
    )
    if grouping is None:
        made = "merging studies" if action == "merge" else "splitting a study"
        raise GroupingError(f"Study {study_id} was not made by {made}; see 'studies history'.")
    return undo_grouping(session, grouping.id, reviewer=reviewer, reason=reason)


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


def history(session: Session) -> list[HistoryRow]:
    """Every merge and split, newest first, with the study ids they had when it was made."""
    out = []
    for g in session.scalars(select(StudyGrouping).order_by(StudyGrouping.id.desc())):
        detail = g.detail or {}
        sources = detail.get("sources", [])
        if g.action == "merge":
            n = sum(int(s.get("n_images") or 0) for s in sources)
        else:
            n = int(detail.get("n_images") or 0)
        out.append(
            HistoryRow(
                id=g.id,
                action=g.action,
                reviewer=g.reviewer,
                reason=g.reason,
                created_at=g.created_at,
                source_study_ids=[s.get("study_id") for s in sources],
                result_study_id=detail.get("result_study_id"),
                n_images=n,
                undone_at=g.undone_at,
                undone_by=g.undone_by,
                undo_reason=g.undo_reason,
            )
        )
    return out
