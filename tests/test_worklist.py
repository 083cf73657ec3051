"""The worklist query: weeks by procedure date, statuses per reviewer, filters, no PHI."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from auditdesk.reading.worklist import (
    WorklistFilter,
    WorklistRow,
    filter_rows,
    list_worklist,
    sample_progress,
    technologists,
    week_label,
    week_progress,
    week_start,
)
from auditdesk.store import audits as store
from auditdesk.store.catalog import set_override as set_classification_override
from auditdesk.store.models import Audit, Image, Patient, Series, Study

MODALITIES = {"acr-mammo-positioning": "MG", "ear": "MG", "pi-qual-v2": "MR"}
MAMMO_VIEWS = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))


def _add_study(
    session,
    n: int,
    day: dt.date | None,
    *,
    kind: str = "mammo",
    technologist: str | None = "SMITH^JANE",
    time_of_day: dt.time = dt.time(10, 0),
    views=MAMMO_VIEWS,
    roles=("T2W", "DWI", "ADC", "DCE", "OTHER"),
) -> Study:
    """One study with its series and images, inserted directly (no DICOM files)."""
    patient = Patient(patient_id=f"PID{n:06d}")
    study = Study(
        study_uid=f"1.2.826.0.1.3680043.99.{n}",
        patient=patient,
        accession_number=f"ACC{n:07d}",
        procedure_date=day,
        procedure_datetime=dt.datetime.combine(day, time_of_day) if day else None,
        description="Screening mammogram" if kind == "mammo" else "MR prostate",
        kind=kind,
        modalities="MG" if kind == "mammo" else "MR",
        technologist=technologist,
    )
    session.add(study)
    if kind == "mammo":
        series = Series(series_uid=f"{study.study_uid}.1", modality="MG")
        study.series.append(series)
        for i, (lat, view) in enumerate(views):
            series.images.append(
                Image(
                    sop_uid=f"{study.study_uid}.1.{i}",
                    path=f"/data/{n}/{i}.dcm",
                    file_size=1,
                    file_mtime_ns=1,
                    view=view,
                    laterality=lat,
                    is_screening_view=True,
                )
            )
    else:
        for i, role in enumerate(roles):
            study.series.append(
                Series(
                    series_uid=f"{study.study_uid}.{i}",
                    modality="MR",
                    series_number=i + 1,
                    mr_role=role,
                )
            )
    session.flush()
    return study


def _version(session, checklist_id: str):
    text = f"id = '{checklist_id}'"
    return store.register_checklist_version(
        session, checklist_id, "1.0", store.sha256_text(text), text, checklist_id
    )


def _audit(session, study, reviewer, checklist_id="acr-mammo-positioning", *, status=None):
    version = _version(session, checklist_id)
    audit = store.open_audit(session, study.id, reviewer.id, version.id)
    if status == "complete":
        store.set_status(session, audit.id, "complete", reviewer.id)
    return audit


@pytest.fixture
def world(db):
    """Two reviewers, mammograms and MR over three weeks, audits in every state."""
    with db.transaction() as s:
        me = store.create_reviewer(s, "Me Reviewer", "technologist", "ME")
        other = store.create_reviewer(s, "Other Reviewer", "coach", "OR")
        # Week of Sun 2026-11-08: Saturday 23:59. Week of Sun 2026-11-15: Sunday 00:00 on.
        sat = _add_study(s, 1, dt.date(2026, 11, 14), time_of_day=dt.time(23, 59))
        sun = _add_study(s, 2, dt.date(2026, 11, 15), time_of_day=dt.time(0, 0))
        mon = _add_study(s, 3, dt.date(2026, 11, 16), technologist="DOE^ALEX")
        mr = _add_study(s, 4, dt.date(2026, 11, 17), kind="mr", technologist="  DOE^ALEX ")
        old = _add_study(s, 5, dt.date(2026, 11, 2), technologist=None, views=MAMMO_VIEWS[:3])
        undated = _add_study(s, 6, None)
        _audit(s, sat, me, status="complete")
        _audit(s, sun, me)  # in progress
        _audit(s, sun, other, status="complete")
        _audit(s, mon, other, status="complete")
        _audit(s, mr, me, "pi-qual-v2", status="complete")
        _audit(s, old, me, "ear", status="complete")
        pks = {
            "sat": sat.id,
            "sun": sun.id,
            "mon": mon.id,
            "mr": mr.id,
            "old": old.id,
            "undated": undated.id,
            "me": me.id,
            "other": other.id,
        }
    return db, pks


def _rows(db, reviewer_pk, **flt) -> list[WorklistRow]:
    with db.session() as s:
        return list_worklist(s, reviewer_pk, WorklistFilter(**flt), checklist_modalities=MODALITIES)


def test_week_start_is_the_sunday_on_or_before() -> None:
    assert week_start(dt.date(2026, 11, 15)) == dt.date(2026, 11, 15)  # Sunday
    assert week_start(dt.date(2026, 11, 21)) == dt.date(2026, 11, 15)  # Saturday
    assert week_start(dt.date(2026, 11, 22)) == dt.date(2026, 11, 22)  # next Sunday
    assert week_start(dt.datetime(2026, 11, 14, 23, 59, 59)) == dt.date(2026, 11, 8)
    assert week_start(dt.date(2025, 1, 10)) == dt.date(2025, 1, 5)  # ACR template example
    assert week_label(dt.date(2026, 11, 18)) == "Week of Sun 2026-11-15"


def test_week_follows_the_procedure_date_not_the_audit_date(world) -> None:
    db, pks = world
    rows = {r.study_pk: r for r in _rows(db, pks["me"])}
    # Saturday 23:59 belongs to the week before; Sunday 00:00 starts the new week.
    assert rows[pks["sat"]].week_start == dt.date(2026, 11, 8)
    assert rows[pks["sun"]].week_start == dt.date(2026, 11, 15)
    assert rows[pks["undated"]].week_start is None
    # Audited today, still counted in the exam's week.
    assert week_progress(rows.values())[dt.date(2026, 11, 8)] == (1, 1)


def test_rows_sorted_newest_procedure_first_undated_last(world) -> None:
    db, pks = world
    order = [r.study_pk for r in _rows(db, pks["me"])]
    assert order == [pks[k] for k in ("mr", "mon", "sun", "sat", "old", "undated")]


def test_status_is_per_reviewer(world) -> None:
    db, pks = world
    mine = {r.study_pk: r for r in _rows(db, pks["me"])}
    theirs = {r.study_pk: r for r in _rows(db, pks["other"])}
    assert mine[pks["sat"]].my_status == "complete"
    assert mine[pks["sun"]].my_status == "in progress"
    assert mine[pks["mon"]].my_status == "to do"
    assert theirs[pks["sun"]].my_status == "complete"
    assert theirs[pks["sat"]].my_status == "to do"
    # Others only as counts: the 'sun' study has one complete read by the other reviewer.
    assert mine[pks["sun"]].n_reviews == 1
    assert mine[pks["sun"]].reviewers == 1 and mine[pks["sun"]].has_audit_by_others
    assert theirs[pks["sun"]].reviewers == 1  # me, in progress
    assert not mine[pks["sat"]].has_audit_by_others
    assert mine[pks["sat"]].my_checklist_id == "acr-mammo-positioning"
    nobody = _rows(db, None)
    assert {r.my_status for r in nobody} == {"to do"}


def test_labels_views_and_technologist(world) -> None:
    db, pks = world
    rows = {r.study_pk: r for r in _rows(db, pks["me"])}
    assert rows[pks["sat"]].exam_label == "Mammo 4-view"
    assert rows[pks["sat"]].views == "RCC LCC RMLO LMLO"
    assert rows[pks["old"]].exam_label == "Mammo 3-view"
    assert rows[pks["mr"]].exam_label == "Prostate MR"
    assert rows[pks["mr"]].views == "T2W DWI ADC DCE"
    assert rows[pks["mr"]].technologist == "DOE^ALEX"
    assert rows[pks["old"]].technologist is None
    assert technologists(rows.values()) == ["DOE^ALEX", "SMITH^JANE"]


def test_classification_overrides_change_the_views(world) -> None:
    db, pks = world
    with db.transaction() as s:
        image = s.query(Image).filter(Image.sop_uid == "1.2.826.0.1.3680043.99.1.1.0").one()
        set_classification_override(
            s, target="image", target_id=image.id, field_name="screening", value="no", reviewer="x"
        )
    rows = {r.study_pk: r for r in _rows(db, pks["me"])}
    assert rows[pks["sat"]].views == "LCC RMLO LMLO"


def test_status_filters(world) -> None:
    db, pks = world
    me = pks["me"]
    todo = {r.study_pk for r in _rows(db, me, status="todo")}
    assert todo == {pks["sun"], pks["mon"], pks["undated"]}
    assert {r.study_pk for r in _rows(db, me, status="in_progress")} == {pks["sun"]}
    assert {r.study_pk for r in _rows(db, me, status="done")} == {
        pks["sat"],
        pks["mr"],
        pks["old"],
    }
    assert len(_rows(db, me, status="all")) == 6


def test_mine_week_technologist_and_kind_filters(world) -> None:
    db, pks = world
    me = pks["me"]
    mine = {r.study_pk for r in _rows(db, me, mine_only=True)}
    assert mine == {pks["sat"], pks["sun"], pks["mr"], pks["old"]}
    # Any day of the week selects the whole Sunday-Saturday week.
    week = {r.study_pk for r in _rows(db, me, week=dt.date(2026, 11, 19))}
    assert week == {pks["sun"], pks["mon"], pks["mr"]}
    assert {r.study_pk for r in _rows(db, me, week=dt.date(2026, 11, 14))} == {pks["sat"]}
    tech = {r.study_pk for r in _rows(db, me, technologist="DOE^ALEX")}
    assert tech == {pks["mon"], pks["mr"]}
    assert {r.study_pk for r in _rows(db, me, kind="mr")} == {pks["mr"]}
    combined = _rows(db, me, kind="mammo", week=dt.date(2026, 11, 15), status="todo")
    assert {r.study_pk for r in combined} == {pks["sun"], pks["mon"]}


def test_checklist_filter_fits_the_modality_and_done_means_that_checklist(world) -> None:
    db, pks = world
    me = pks["me"]
    rows = _rows(db, me, checklist_id="acr-mammo-positioning")
    assert pks["mr"] not in {r.study_pk for r in rows}
    by_pk = {r.study_pk: r for r in rows}
    # 'old' was completed with the EAR checklist: still to do for ACR positioning.
    assert by_pk[pks["old"]].my_status == "to do"
    assert by_pk[pks["sat"]].my_status == "complete"
    done = {r.study_pk for r in _rows(db, me, checklist_id="acr-mammo-positioning", status="done")}
    assert done == {pks["sat"]}
    ear_done = {r.study_pk for r in _rows(db, me, checklist_id="ear", status="done")}
    assert ear_done == {pks["old"]}
    mr_rows = _rows(db, me, checklist_id="pi-qual-v2")
    assert [r.study_pk for r in mr_rows] == [pks["mr"]]
    assert _rows(db, me, checklist_id="pi-qual-v2", kind="mammo") == []
    # Filtering rows already listed gives the same answer as asking the database.
    everything = _rows(db, me, status="all")
    flt = WorklistFilter(status="todo", week=dt.date(2026, 11, 15), kind="mammo")
    assert [r.study_pk for r in filter_rows(everything, flt)] == [
        r.study_pk for r in _rows(db, me, **dataclasses.asdict(flt))
    ]


def test_my_result_comes_from_my_newest_score_and_override(world) -> None:
    db, pks = world
    me = pks["me"]
    with db.transaction() as s:
        audit = store.list_audits(s, study_pk=pks["sat"], reviewer_pk=me)[0]
        store.save_score(s, audit.id, audit.checklist_version_pk, {"a": 1}, True, None, True)
        store.save_score(s, audit.id, audit.checklist_version_pk, {"a": 2}, False, None, True)
    assert {r.study_pk: r for r in _rows(db, me)}[pks["sat"]].my_meets_criteria is False
    with db.transaction() as s:
        store.set_override(s, audit.id, "meets_criteria", True, me, "Pectoral seen on the CC.")
    assert {r.study_pk: r for r in _rows(db, me)}[pks["sat"]].my_meets_criteria is True
    # The other reviewer's result never shows in my rows.
    assert {r.study_pk: r for r in _rows(db, me)}[pks["mon"]].my_meets_criteria is None


def test_my_not_evaluable_audit_is_shown_as_such_until_overridden(world) -> None:
    db, pks = world
    me = pks["me"]
    with db.transaction() as s:
        audit = store.list_audits(s, study_pk=pks["sat"], reviewer_pk=me)[0]
        result = {"evaluable": False, "not_evaluable": ["RCC: every required item answered N/A"]}
        store.save_score(s, audit.id, audit.checklist_version_pk, result, None, None, True)
    rows = {r.study_pk: r for r in _rows(db, me)}
    assert (rows[pks["sat"]].my_meets_criteria, rows[pks["sat"]].my_not_evaluable) == (None, True)
    assert not rows[pks["old"]].my_not_evaluable  # a score without the flag: not flagged
    with db.transaction() as s:
        store.set_override(s, audit.id, "meets_criteria", False, me, "Judged on the other views.")
    row = {r.study_pk: r for r in _rows(db, me)}[pks["sat"]]
    assert (row.my_meets_criteria, row.my_not_evaluable) == (False, False)


def test_rows_carry_no_phi(world) -> None:
    db, pks = world
    rows = _rows(db, pks["me"])
    names = {f.name for f in dataclasses.fields(WorklistRow)}
    assert not names & {"patient_id", "accession_number", "study_uid", "patient_name", "path"}
    text = repr(rows)
    for n in range(1, 7):
        assert f"PID{n:06d}" not in text
        assert f"ACC{n:07d}" not in text
        assert f"1.2.826.0.1.3680043.99.{n}" not in text
    assert "/data/" not in text


def test_many_studies_list_with_my_status(db) -> None:
    """A generated database of 2,000 studies (with audits) lists every study with the right
    status (speed: benchmarks/bench_workflow.py)."""
    with db.transaction() as s:
        me = store.create_reviewer(s, "Busy Reviewer", "technologist", "BR")
        version = _version(s, "acr-mammo-positioning")
        day0 = dt.date(2026, 1, 4)
        for n in range(2000):
            kind = "mr" if n % 5 == 0 else "mammo"
            tech = f"TECH^{n % 7}"
            study = _add_study(
                s, 10_000 + n, day0 + dt.timedelta(days=n % 300), kind=kind, technologist=tech
            )
            if kind == "mammo" and n % 3 == 0:
                audit = store.open_audit(s, study.id, me.id, version.id)
                if n % 2:
                    audit.status = "complete"
        me_pk = me.id
    with db.session() as s:
        rows = list_worklist(s, me_pk, WorklistFilter(), checklist_modalities=MODALITIES)
    assert len(rows) == 2000
    assert sum(r.my_status == "complete" for r in rows) == sum(
        1 for n in range(2000) if n % 5 and n % 3 == 0 and n % 2
    )


def test_sample_marks_rows_filters_and_counts_progress(world) -> None:
    from auditdesk.qi import sampling

    db, pks = world
    me, other = pks["me"], pks["other"]
    week = dt.date(2026, 11, 15)
    with db.transaction() as s:
        # Sun (I have started it) and Mon are the week's 4-view mammograms; Mon gets a second read.
        plan = sampling.SamplePlan(
            week_start=week, mode="overall", n=5, seed=3, second_share=1.0, reviewer_pks=[me, other]
        )
        _seed, items = sampling.draw_sample(s, plan)
    assert {i.study_pk for i in items} == {pks["sun"], pks["mon"]}
    rows = {r.study_pk: r for r in _rows(db, me)}
    assert rows[pks["sun"]].sampled and rows[pks["mon"]].sampled
    assert not rows[pks["sat"]].sampled and not rows[pks["mr"]].sampled
    seconds = {i.study_pk for i in items if i.second_reviewer_pk == me}
    assert {pk for pk, r in rows.items() if r.second_reader} == seconds
    assert all(r.assigned_to_me for pk, r in rows.items() if r.sampled)
    only = {r.study_pk for r in _rows(db, me, sample_only=True)}
    assert only == {pks["sun"], pks["mon"]}
    assert sample_progress(rows.values(), week + dt.timedelta(days=3)) == (0, 2)
    assert sample_progress(rows.values(), dt.date(2026, 11, 8)) is None
    with db.transaction() as s:
        audit = s.scalars(
            select(Audit).where(Audit.study_pk == pks["sun"], Audit.reviewer_pk == me)
        ).one()
        store.set_status(s, audit.id, "complete", me)
    assert sample_progress(_rows(db, me), week) == (1, 2)
    # Nobody chosen: everything sampled counts, nothing is mine.
    assert sample_progress(_rows(db, None), week) == (0, 2)
