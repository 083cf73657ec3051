"""Studies merged and split (issue 13): suggestions for exams that arrive one study per image,
merge and split with history, undo, audits that follow, and groupings that survive re-import.

Test files are synthetic 4-view mammograms (the demo generator) rewritten the way archives send
them (see study_group_files.py). No Qt here."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from auditdesk.dicom.index import import_paths
from auditdesk.qi.sampling import eligible_studies
from auditdesk.reading.auditing import find_checklist, snapshot_checklist
from auditdesk.reading.hanging import MAMMO_SLOTS, hang_mammo
from auditdesk.reading.worklist import WorklistFilter, list_worklist
from auditdesk.store import audits
from auditdesk.store.catalog import list_studies
from auditdesk.store.db import Database
from auditdesk.store.models import Audit, Image, Study, StudyGrouping, StudyUidMap
from auditdesk.store.study_groups import (
    GroupingError,
    UidResolver,
    history,
    merge_studies,
    normalized_patient_id,
    split_study,
    undo_for_study,
    undo_grouping,
)
from auditdesk.store.study_suggestions import suggest_groups
from study_group_files import four_view_exam

DAY = dt.date(2025, 3, 4)


def _ids(db: Database) -> dict[str, int]:
    """View label -> study id, for studies of one image each."""
    with db.session() as s:
        return {
            st.views[0] if st.views else f"?{st.id}": st.id
            for st in list_studies(s)
            if st.n_images == 1
        }


def _touch(paths: list[Path]) -> None:
    """Change the files' stamps so the next import reads their headers again (the index skips
    unchanged files, which would not exercise the grouping at all)."""
    for p in paths:
        st = p.stat()
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def split_exam(tmp_path: Path, db: Database) -> tuple[Database, Path, dict[str, Path]]:
    """One patient's 4-view exam sent as four one-image studies; patient IDs carry the view."""
    data = tmp_path / "data"
    paths = four_view_exam(data, index=1, day=DAY, patient_id="FILM7", view_in_patient_id=True)
    import_paths(db, [data])
    return db, data, paths


def _reviewer_and_checklist(db: Database) -> tuple[int, int, int]:
    with db.transaction() as s:
        alice = audits.create_reviewer(s, "Alice Tech", "technologist", "AT")
        bob = audits.create_reviewer(s, "Bob Lead", "team_leader", "BL")
        version = snapshot_checklist(s, find_checklist("acr-mammo-positioning"))
        return alice.id, bob.id, version.id


def _audit(db: Database, study_pk: int, reviewer_pk: int, version_pk: int) -> int:
    with db.transaction() as s:
        audit = audits.open_audit(s, study_pk, reviewer_pk, version_pk)
        audits.set_answer(s, audit.id, "RMLO:pectoral_to_pnl", "pass", reviewer_pk)
        return audit.id


# --- suggestions ---------------------------------------------------------------------------------


def test_patient_ids_compare_without_side_and_view_words() -> None:
    assert normalized_patient_id("film7_left_cc") == normalized_patient_id("FILM7-RIGHT MLO")
    assert normalized_patient_id("FILM7_LEFT_CC") == "FILM7"
    assert normalized_patient_id("FILM7") != normalized_patient_id("FILM8_LEFT_CC")
    assert normalized_patient_id("CC") == "CC"  # never reduced to nothing
    assert normalized_patient_id("  ") is None


def test_four_one_image_studies_of_one_patient_and_date_are_suggested(split_exam) -> None:
    db, _data, _paths = split_exam
    ids = _ids(db)
    assert sorted(ids) == ["LCC", "LMLO", "RCC", "RMLO"]
    with db.session() as s:
        found = suggest_groups(list_studies(s))
    assert len(found) == 1
    g = found[0]
    assert g.study_ids == tuple(sorted(ids.values()))
    assert g.procedure_date == DAY
    assert g.matched_by == "patient"
    assert "RCC, LCC, RMLO, LMLO" in g.reason and "missing" not in g.reason
    assert "FILM7" not in g.reason  # no patient data in what is shown


def test_no_suggestion_across_patients_dates_or_repeated_views(
    tmp_path: Path, db: Database
) -> None:
    # Two patients on one day, one image each of RCC/LCC...: never joined across patients.
    a = four_view_exam(tmp_path / "a", index=1, day=DAY, patient_id="PAT-A")
    b = four_view_exam(tmp_path / "b", index=2, day=DAY, patient_id="PAT-B")
    # Same patient on another date: a separate exam.
    c = four_view_exam(tmp_path / "c", index=3, day=DAY + dt.timedelta(days=1), patient_id="PAT-A")
    for paths in (a, b, c):
        for label in ("LCC", "RMLO", "LMLO"):
            paths.pop(label).unlink()
    # Two complete exams each sent as whole studies: nothing to suggest.
    four_view_exam(tmp_path / "d", index=4, day=DAY, patient_id="PAT-D", one_study_per_image=False)
    import_paths(db, [tmp_path])
    with db.session() as s:
        studies = list_studies(s)
        assert len(studies) == 4
        assert suggest_groups(studies) == []

    # The same RCC twice (a repeat) for one patient and day is two exams, not one split up.
    e = four_view_exam(tmp_path / "e", index=5, day=DAY, patient_id="PAT-A")
    for label in ("LCC", "RMLO", "LMLO"):
        e.pop(label).unlink()
    import_paths(db, [tmp_path / "e"])
    with db.session() as s:
        assert suggest_groups(list_studies(s)) == []


def test_same_accession_suggests_even_when_patient_ids_differ(tmp_path: Path, db: Database) -> None:
    four_view_exam(
        tmp_path, index=1, day=DAY, patient_id="X", accession="ACC77", distinct_patient_ids=True
    )
    import_paths(db, [tmp_path])
    with db.session() as s:
        studies = list_studies(s)
        assert len({st.patient_id for st in studies}) == 4
        found = suggest_groups(studies)
    assert [len(g.study_ids) for g in found] == [4]
    assert found[0].matched_by == "accession"
    assert "ACC77" not in found[0].reason


# --- merge -------------------------------------------------------------------------------------


def test_merge_makes_one_exam_the_hanging_fills_and_every_consumer_sees_one(split_exam) -> None:
    db, _data, _paths = split_exam
    ids = _ids(db)
    with db.session() as s:
        assert eligible_studies(s, DAY) == []  # four incomplete exams: none can be sampled
    with db.transaction() as s:
        result = merge_studies(
            s, list(ids.values()), reviewer="Alice Tech", reason="film digitised per image"
        )
    with db.session() as s:
        studies = list_studies(s)
        assert [st.id for st in studies] == [result.study_id]
        merged = studies[0]
        assert merged.n_images == 4
        assert merged.procedure_date == DAY
        assert merged.technologist == "TECH, A"  # as the index writes TECH^A
        hanging = hang_mammo(merged)
        assert hanging.missing == []
        assert {c.image.label for c in hanging.slots.values()} == set(MAMMO_SLOTS)
        assert suggest_groups(studies) == []
        # Sampling and the worklist count one complete 4-view exam.
        assert eligible_studies(s, DAY) == [result.study_id]
        rows = list_worklist(s, None, WorklistFilter())
        assert [r.study_pk for r in rows] == [result.study_id]
        assert s.scalar(select(func.count()).select_from(Study)) == 1


def test_merge_refuses_different_dates_or_patients_unless_forced(tmp_path: Path, db: Database):
    a = four_view_exam(tmp_path / "a", index=1, day=DAY, patient_id="PAT-A")
    b = four_view_exam(tmp_path / "b", index=2, day=DAY + dt.timedelta(days=2), patient_id="PAT-B")
    for paths in (a, b):
        for label in ("LCC", "RMLO", "LMLO"):
            paths.pop(label).unlink()
    import_paths(db, [tmp_path])
    with db.session() as s:
        pks = sorted(s.scalars(select(Study.id)).all())
    with db.transaction() as s, pytest.raises(GroupingError) as err:
        merge_studies(s, pks, reviewer="Alice Tech")
    message = str(err.value)
    assert "different procedure dates (2025-03-04, 2025-03-06)" in message
    assert "different patients" in message
    assert "PAT-A" not in message and "PAT-B" not in message
    with db.transaction() as s:
        with pytest.raises(GroupingError, match="at least two"):
            merge_studies(s, pks[:1], reviewer="Alice Tech")
        with pytest.raises(GroupingError, match="reviewer's name"):
            merge_studies(s, pks, reviewer=" ")
        with pytest.raises(GroupingError, match="No study with id 999"):
            merge_studies(s, [pks[0], 999], reviewer="Alice Tech")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Study)) == 2  # nothing changed
    with db.transaction() as s:
        merged = merge_studies(s, pks, reviewer="Alice Tech", force=True)
    with db.session() as s:
        study = s.get(Study, merged.study_id)
        assert study is not None and study.procedure_date == DAY  # the earliest date is kept


def test_audits_follow_the_merge_and_a_clash_is_refused_with_one_sentence(split_exam) -> None:
    db, _data, _paths = split_exam
    ids = _ids(db)
    alice, bob, version = _reviewer_and_checklist(db)
    a1 = _audit(db, ids["RCC"], alice, version)
    b1 = _audit(db, ids["LMLO"], bob, version)
    a2 = _audit(db, ids["LCC"], alice, version)
    with db.transaction() as s, pytest.raises(GroupingError) as err:
        merge_studies(s, list(ids.values()), reviewer="Alice Tech")
    message = str(err.value)
    assert f"audit {a1} (study {ids['RCC']}, Alice Tech, acr-mammo-positioning)" in message
    assert f"audit {a2} (study {ids['LCC']}, Alice Tech" in message
    assert message.count(".") <= 2 and "\n" not in message
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Study)) == 4

    # Without the clash (LCC left out) the audits move with the exam; undo puts each one back.
    three = [ids["RCC"], ids["RMLO"], ids["LMLO"]]
    with db.transaction() as s:
        merged = merge_studies(s, three, reviewer="Alice Tech")
    with db.session() as s:
        assert s.get(Audit, a1).study_pk == merged.study_id  # type: ignore[union-attr]
        assert s.get(Audit, b1).study_pk == merged.study_id  # type: ignore[union-attr]
        assert s.get(Audit, a2).study_pk == ids["LCC"]  # type: ignore[union-attr]
    with db.transaction() as s:
        undone = undo_for_study(s, merged.study_id, "merge", reviewer="Bob Lead", reason="wrong")
    back = _ids(db)
    with db.session() as s:
        assert s.get(Audit, a1).study_pk == back["RCC"]  # type: ignore[union-attr]
        assert s.get(Audit, b1).study_pk == back["LMLO"]  # type: ignore[union-attr]
    assert undone.study_id in back.values()

    # An audit made on the merged exam has no original study to go back to: undo refuses.
    with db.transaction() as s:
        again = merge_studies(s, [back[v] for v in ("RCC", "RMLO", "LMLO")], reviewer="A")
    with db.transaction() as s:
        carol = audits.create_reviewer(s, "Carol Coach", "coach", "CC").id
    later = _audit(db, again.study_id, carol, version)
    with db.transaction() as s, pytest.raises(GroupingError) as err:
        undo_for_study(s, again.study_id, "merge", reviewer="Bob Lead")
    assert f"audit {later} (study {again.study_id}, Carol Coach" in str(err.value)
    with db.session() as s:
        assert s.get(Study, again.study_id) is not None  # nothing changed


def test_merge_survives_reimport_and_unmerge_survives_it_too(split_exam) -> None:
    db, data, paths = split_exam
    ids = _ids(db)
    original_sops = set()
    with db.session() as s:
        original_sops = set(s.scalars(select(Image.sop_uid)).all())
    with db.transaction() as s:
        merged = merge_studies(s, list(ids.values()), reviewer="Alice Tech")

    import_paths(db, [data])  # unchanged files
    _touch(list(paths.values()))
    summary = import_paths(db, [data])  # changed stamps: every header read and filed again
    assert summary.updated == 4
    with db.session() as s:
        studies = list_studies(s)
        assert [(st.id, st.n_images) for st in studies] == [(merged.study_id, 4)]
        assert set(s.scalars(select(Image.sop_uid)).all()) == original_sops

    with db.transaction() as s:
        undo_for_study(s, merged.study_id, "merge", reviewer="Alice Tech")
    restored = _ids(db)
    assert sorted(restored) == ["LCC", "LMLO", "RCC", "RMLO"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(StudyUidMap)) == 0
    _touch(list(paths.values()))
    import_paths(db, [data])
    assert _ids(db) == restored  # still four studies, same rows
    with db.session() as s:
        assert len(suggest_groups(list_studies(s))) == 1  # and suggested again


def test_split_of_two_exams_under_one_study_round_trips_through_reimport(
    tmp_path: Path, db: Database
) -> None:
    data = tmp_path / "data"
    uid = "1.2.826.0.1.3680043.10.543.1"
    # Both exams in one study and one series: the split has to divide a series, and only the
    # grouping stored by SOP Instance UID keeps the images apart when the files come back.
    kw = {"day": DAY, "patient_id": "P", "study_uid": uid, "series_uid": uid + ".1"}
    first = four_view_exam(data / "1", index=1, **kw)  # type: ignore[arg-type]
    second = four_view_exam(data / "2", index=2, **kw)  # type: ignore[arg-type]
    import_paths(db, [data])
    with db.session() as s:
        (study,) = list_studies(s)
        assert study.n_images == 8 and len(study.series) == 1
        by_path = {img.path: img.id for se in study.series for img in se.images}
    moving = [by_path[str(p.resolve())] for p in second.values()]
    alice, _bob, version = _reviewer_and_checklist(db)
    audit = _audit(db, study.id, alice, version)

    with db.transaction() as s:
        result = split_study(s, study.id, moving, reviewer="Bob Lead", reason="two exams")
    assert "stay on study" in result.notes[0]
    with db.session() as s:
        studies = {st.id: st for st in list_studies(s)}
        assert sorted(st.n_images for st in studies.values()) == [4, 4]
        new = studies[result.study_id]
        assert {img.id for se in new.series for img in se.images} == set(moving)
        assert len(new.series) == 1 and new.series[0].id != study.series[0].id
        assert hang_mammo(new).missing == [] and hang_mammo(studies[study.id]).missing == []
        assert s.get(Audit, audit).study_pk == study.id  # type: ignore[union-attr]

    _touch([*first.values(), *second.values()])
    import_paths(db, [data])
    with db.session() as s:
        assert sorted((st.id, st.n_images) for st in list_studies(s)) == sorted(
            [(study.id, 4), (result.study_id, 4)]
        )

    with db.transaction() as s:
        undo_for_study(s, result.study_id, "split", reviewer="Bob Lead")
    _touch([*first.values(), *second.values()])
    import_paths(db, [data])
    with db.session() as s:
        assert [(st.id, st.n_images, len(st.series)) for st in list_studies(s)] == [
            (study.id, 8, 1)
        ]


def test_split_refuses_bad_image_lists(tmp_path: Path, db: Database) -> None:
    four_view_exam(tmp_path, index=1, day=DAY, patient_id="P", one_study_per_image=False)
    import_paths(db, [tmp_path])
    with db.session() as s:
        (study,) = list_studies(s)
        image_ids = [img.id for se in study.series for img in se.images]
    with db.transaction() as s:
        with pytest.raises(GroupingError, match="all 4 images"):
            split_study(s, study.id, image_ids, reviewer="A")
        with pytest.raises(GroupingError, match="Image 999 is not in study"):
            split_study(s, study.id, [999], reviewer="A")
        with pytest.raises(GroupingError, match="needs the ids"):
            split_study(s, study.id, [], reviewer="A")


def test_history_keeps_who_when_why_and_undo_order_is_enforced(split_exam) -> None:
    db, _data, _paths = split_exam
    ids = _ids(db)
    with db.transaction() as s:
        m = merge_studies(s, list(ids.values()), reviewer="Alice Tech", reason="one exam")
    with db.session() as s:
        merged = list_studies(s)[0]
        rcc = next(i.id for se in merged.series for i in se.images if i.label == "RCC")
    with db.transaction() as s:
        sp = split_study(s, m.study_id, [rcc], reviewer="Bob Lead", reason="test split")
    with db.transaction() as s, pytest.raises(GroupingError, match=f"Undo {sp.grouping_id} first"):
        undo_grouping(s, m.grouping_id, reviewer="Alice Tech")
    with db.transaction() as s:
        undo_grouping(s, sp.grouping_id, reviewer="Alice Tech", reason="changed my mind")
    with db.transaction() as s, pytest.raises(GroupingError, match="already undone"):
        undo_grouping(s, sp.grouping_id, reviewer="Alice Tech")
    with db.session() as s:
        rows = history(s)
        assert s.scalar(select(func.count()).select_from(StudyGrouping)) == 2
    assert [(r.action, r.reviewer, r.reason, r.active) for r in rows] == [
        ("split", "Bob Lead", "test split", False),
        ("merge", "Alice Tech", "one exam", True),
    ]
    assert rows[0].undone_by == "Alice Tech" and rows[0].undo_reason == "changed my mind"
    assert rows[1].source_study_ids == sorted(ids.values())
    assert rows[1].result_study_id == m.study_id and rows[1].n_images == 4
    assert rows[0].n_images == 1


def test_resolver_follows_splits_then_merges() -> None:
    r = UidResolver(
        [
            ("study", "A", "M", None),
            ("image", "sop1", "S", "ser-x"),
            ("study", "S", "M2", None),
            ("study", "A", "M3", None),  # newer row for A wins
        ]
    )
    assert r.resolve("sop0", "A", "ser") == ("M3", "ser")
    assert r.resolve("sop1", "A", "ser") == ("M2", "ser-x")
    assert r.resolve("sop9", "B", "ser") == ("B", "ser")
    assert not UidResolver([])


def test_an_image_that_arrives_after_the_merge_joins_it_and_goes_home_on_unmerge(
    tmp_path: Path, db: Database
) -> None:
    import pydicom

    paths = four_view_exam(tmp_path / "data", index=1, day=DAY, patient_id="P")
    late = tmp_path / "late"
    late.mkdir()
    rmlo = paths["RMLO"].rename(late / "rmlo.dcm")
    ds = pydicom.dcmread(rmlo)  # the RMLO belongs to the RCC's study, and comes later
    ds.StudyInstanceUID = pydicom.dcmread(paths["RCC"]).StudyInstanceUID
    ds.save_as(rmlo)
    import_paths(db, [tmp_path / "data"])
    ids = _ids(db)
    assert sorted(ids) == ["LCC", "LMLO", "RCC"]
    with db.transaction() as s:
        merged = merge_studies(s, list(ids.values()), reviewer="Alice Tech")

    import_paths(db, [late])  # filed under the merged study, not a re-created RCC study
    with db.session() as s:
        studies = list_studies(s)
    assert [(st.id, st.views) for st in studies] == [
        (merged.study_id, ["RCC", "LCC", "RMLO", "LMLO"])
    ]

    with db.transaction() as s:  # its own header says it belongs with the RCC
        result = undo_for_study(s, merged.study_id, "merge", reviewer="Alice Tech")
    assert result.notes == []
    with db.session() as s:
        views = sorted(tuple(st.views) for st in list_studies(s))
    assert views == [("LCC",), ("LMLO",), ("RCC", "RMLO")]


def test_the_measure_counts_the_merged_exam_once_with_its_date_and_technologist(split_exam):
    """An audit made on one of the pieces before the merge counts for the merged exam: one
    exam in the measure's denominator, on the exam's date, for its technologist."""
    from auditdesk.checklists.rules import answer_keys, item_for_key
    from auditdesk.qi.measures import exam_results, overall
    from auditdesk.reading.auditing import AuditSession, find_checklist

    db, _data, _paths = split_exam
    ids = _ids(db)
    with db.transaction() as s:
        reviewer = audits.create_reviewer(s, "Ann Reader", "technologist", "AR").id
    checklist = find_checklist("acr-mammo-positioning")
    audit = AuditSession.start(db, study_pk=ids["RCC"], reviewer_pk=reviewer, checklist=checklist)
    computed = audit.state().score.result["computed"]
    for key in answer_keys(checklist):
        item = item_for_key(checklist, key)
        if not item.required or computed.get(key, {}).get("value") in ("pass", "fail"):
            continue
        if item.type == "pass_fail":
            audit.answer(key, "pass")
        elif item.type == "choice":
            audit.answer(key, item.options[0].value)
    audit.complete()
    with db.transaction() as s:
        merged = merge_studies(s, list(ids.values()), reviewer="Ann Reader")
    with db.session() as s:
        results = exam_results(s, "acr-mammo-positioning")
    assert [(r.study_pk, r.procedure_date, r.technologist) for r in results] == [
        (merged.study_id, DAY, "TECH, A")
    ]
    rate = overall(results)  # one exam: in the denominator, or counted apart as not evaluable
    assert rate.denominator + rate.not_evaluable == 1
