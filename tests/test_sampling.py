"""Weekly samples: reproducible with the stored seed, per technologist or overall, double reads
by a different reviewer, screening 4-view exams only, and fixed once auditing has started."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from auditdesk.cli import main
from auditdesk.dicom.index import import_paths
from auditdesk.qi.sampling import (
    SamplePlan,
    SamplingError,
    draw_sample,
    eligible_studies,
    primary_reviewer,
    primary_reviewer_map,
    sample_plan,
    sample_study_pks,
    sample_weeks,
    week_sample,
)
from auditdesk.qi.site import add_alias, add_technologist
from auditdesk.store import audits
from auditdesk.store.catalog import get_study, set_override
from auditdesk.store.models import Image, Series, Study

WEEK = dt.date(2026, 3, 1)  # a Sunday
SCREENING = [("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")]


def _add_study(session, uid: str, day: dt.date, tech: str | None, views=SCREENING) -> int:
    study = Study(study_uid=uid, kind="mammo", procedure_date=day, technologist=tech)
    series = Series(series_uid=uid + ".1", modality="MG")
    study.series.append(series)
    for i, (lat, view) in enumerate(views):
        series.images.append(
            Image(
                sop_uid=f"{uid}.1.{i}",
                path=f"/nowhere/{uid}/{i}.dcm",
                file_size=1,
                file_mtime_ns=1,
                view=view,
                laterality=lat,
                is_screening_view=True,
            )
        )
    session.add(study)
    session.flush()
    return study.id


@pytest.fixture
def week_db(db):
    """Three technologists (one under two spellings) with 8, 8 and 3 screening exams in WEEK,
    one exam in the next week, and three reviewers."""
    with db.transaction() as s:
        n = 0
        for tech, count in [("SMITH^JANE", 5), ("J.S.", 3), ("DOE^ALEX", 8), ("KIM^LEE", 3)]:
            for _ in range(count):
                n += 1
                _add_study(s, f"2.25.{n}", WEEK + dt.timedelta(days=n % 7), tech)
        _add_study(s, "2.25.999", WEEK + dt.timedelta(days=7), "DOE^ALEX")
        jane = add_technologist(s, "Jane Smith")
        add_alias(s, jane.id, "J.S.")
        add_technologist(s, "Alex Doe")
        reviewers = [
            audits.create_reviewer(s, name, "team_leader", name[:2]).id
            for name in ("Rita Review", "Coach Carl", "Alex Doe")
        ]
    return db, reviewers


def _pks(items) -> list[int]:
    return [i.study_pk for i in items]


def test_eligible_studies_week_bounds(week_db) -> None:
    db, _ = week_db
    with db.session() as s:
        found = eligible_studies(s, WEEK)
        assert len(found) == 19
        assert eligible_studies(s, WEEK + dt.timedelta(days=3)) == found  # any day of the week
        assert len(eligible_studies(s, WEEK + dt.timedelta(days=7))) == 1
        rows = s.execute(
            select(Study.id, Study.procedure_date, Study.study_uid).where(Study.id.in_(found))
        ).all()
        assert found == [r[0] for r in sorted(rows, key=lambda r: (r[1], r[2]))]


def test_same_seed_same_sample_and_stored_plan_reproduces(week_db) -> None:
    db, reviewers = week_db
    plan = SamplePlan(WEEK, seed=42, reviewer_pks=reviewers)
    with db.transaction() as s:
        seed, first = draw_sample(s, plan)
        assert seed == 42
        _, again = draw_sample(s, plan)  # nothing audited yet: a redraw is allowed
        _, other = draw_sample(s, dataclasses.replace(plan, seed=43))
    assert first == again
    assert _pks(first) != _pks(other)

    with db.transaction() as s:
        seed, drawn = draw_sample(s, SamplePlan(WEEK, reviewer_pks=reviewers), created_by=1)
    with db.session() as s:
        stored = sample_plan(s, WEEK)
        assert stored is not None and stored.seed == seed
        assert stored.created_by == 1 and stored.created_at is not None
        assert (stored.mode, stored.n, stored.second_share, stored.screening_only) == (
            "per_technologist",
            5,
            0.15,
            True,
        )
        assert week_sample(s, WEEK) == drawn
    # Audit of the sample: the stored plan, redrawn on the same data, gives the same sample.
    with db.transaction() as s:
        _, redrawn = draw_sample(s, stored)
    assert redrawn == drawn


def test_per_technologist_counts_with_aliases(week_db) -> None:
    db, reviewers = week_db
    with db.transaction() as s:
        _, items = draw_sample(s, SamplePlan(WEEK, n=5, seed=1, reviewer_pks=reviewers))
    counts = Counter(i.technologist for i in items)
    # Jane's 5 + 3 exams under two spellings are one group; Kim's 3 are taken whole.
    assert counts == {"Jane Smith": 5, "Alex Doe": 5, "KIM^LEE": 3}
    assert all(i.week_start == WEEK for i in items)
    assert len(set(_pks(items))) == len(items)


def test_overall_mode(week_db) -> None:
    db, _ = week_db
    with db.transaction() as s:
        _, items = draw_sample(s, SamplePlan(WEEK, mode="overall", n=7, seed=5))
        assert len(items) == 7
        assert all(i.primary_reviewer_pk is None and i.second_reviewer_pk is None for i in items)
        _, everything = draw_sample(s, SamplePlan(WEEK, mode="overall", n=50, seed=5))
        assert len(everything) == 19


def test_second_reviewers_share_and_never_the_primary(week_db) -> None:
    db, reviewers = week_db
    with db.transaction() as s:
        for seed in range(10):
            _, items = draw_sample(
                s, SamplePlan(WEEK, n=8, seed=seed, second_share=0.15, reviewer_pks=reviewers)
            )
            assert len(items) == 19  # 8 + 8 + 3
            seconds = [i for i in items if i.second_reviewer_pk is not None]
            assert len(seconds) == 3  # round(0.15 x 19)
            assert all(i.second_reviewer_pk != i.primary_reviewer_pk for i in seconds)
            assert {i.primary_reviewer_pk for i in items} <= set(reviewers)
            # Reviewer "Alex Doe" never gets his own exams as primary.
            alex_pk = reviewers[2]
            assert all(
                i.primary_reviewer_pk != alex_pk for i in items if i.technologist == "Alex Doe"
            )
        _, items = draw_sample(s, SamplePlan(WEEK, seed=3, second_share=1, reviewer_pks=reviewers))
        assert all(i.second_reviewer_pk not in (None, i.primary_reviewer_pk) for i in items)
        # One reviewer: nobody to double-read with.
        _, items = draw_sample(s, SamplePlan(WEEK, seed=3, second_share=1, reviewer_pks=[1]))
        assert all(i.primary_reviewer_pk == 1 and i.second_reviewer_pk is None for i in items)


def test_invalid_plans_are_refused(week_db) -> None:
    db, _ = week_db
    with db.transaction() as s:
        for plan, words in [
            (SamplePlan(WEEK, mode="random"), "mode"),
            (SamplePlan(WEEK, n=0), "at least 1"),
            (SamplePlan(WEEK, second_share=1.5), "between 0 and 1"),
            (SamplePlan(WEEK, reviewer_pks=[99]), "no reviewer"),
        ]:
            with pytest.raises(SamplingError, match=words):
                draw_sample(s, plan)


def test_redraw_refused_after_an_audit_started(week_db) -> None:
    db, reviewers = week_db
    with db.transaction() as s:
        _, items = draw_sample(s, SamplePlan(WEEK, seed=7, reviewer_pks=reviewers))
        _, next_week = draw_sample(s, SamplePlan(WEEK + dt.timedelta(days=7), seed=7))
        version = audits.register_checklist_version(
            s, "acr-mammo-positioning", "1.0", audits.sha256_text("v1"), "v1", "ACR"
        )
        audits.open_audit(s, items[0].study_pk, reviewers[0], version.id)
    with db.transaction() as s, pytest.raises(SamplingError, match="started"):
        draw_sample(s, SamplePlan(WEEK, seed=8, reviewer_pks=reviewers))
    with db.session() as s:
        assert week_sample(s, WEEK) == items  # unchanged
        assert sample_weeks(s) == [WEEK + dt.timedelta(days=7), WEEK]
        assert sample_study_pks(s, WEEK) == set(_pks(items))
        assert sample_study_pks(s) == set(_pks(items)) | set(_pks(next_week))
        assert primary_reviewer(s, items[0].study_pk) == items[0].primary_reviewer_pk
        assert primary_reviewer_map(s)[items[1].study_pk] == items[1].primary_reviewer_pk
        assert primary_reviewer(s, 123456) is None
        assert sample_plan(s, WEEK + dt.timedelta(days=14)) is None
        assert week_sample(s, WEEK + dt.timedelta(days=14)) == []


def test_replaced_sample_no_longer_counts(week_db) -> None:
    db, _ = week_db
    with db.transaction() as s:
        _, first = draw_sample(s, SamplePlan(WEEK, mode="overall", n=3, seed=1))
        _, second = draw_sample(s, SamplePlan(WEEK, mode="overall", n=3, seed=2))
    assert set(_pks(first)) != set(_pks(second))
    with db.session() as s:
        assert sample_study_pks(s, WEEK) == set(_pks(second))
        assert sample_weeks(s) == [WEEK]


def test_screening_only_uses_the_indexed_views(db, test_set) -> None:
    import_paths(db, [test_set.root])
    with db.session() as s:
        mammo = s.scalars(select(Study.id).where(Study.kind == "mammo").order_by(Study.id)).all()
        week = s.scalar(select(Study.procedure_date).where(Study.id == mammo[0]))
        assert sorted(eligible_studies(s, week)) == mammo  # spot / FOR PROCESSING not needed
        first, second = (get_study(s, pk) for pk in mammo)
    assert first is not None and second is not None
    # First study: its regular LCC stops counting, so only the spot LCC is left for that view.
    lcc = next(
        img
        for se in first.series
        for img in se.images
        if img.label == "LCC" and img.is_screening_view
    )
    assert any(
        img.label == "LCC" and "Spot" in (img.exclusion_reason or "")
        for se in first.series
        for img in se.images
    )
    # Second study: its RCC is missing (excluded by a reviewer).
    rcc = next(img for se in second.series for img in se.images if img.label == "RCC")
    with db.transaction() as s:
        for image in (lcc, rcc):
            set_override(
                s,
                target="image",
                target_id=image.id,
                field_name="screening",
                value="no",
                reviewer="Rita Review",
            )
    with db.session() as s:
        assert eligible_studies(s, week) == []
        assert sorted(eligible_studies(s, week, screening_only=False)) == mammo
    with db.transaction() as s:
        _, items = draw_sample(s, SamplePlan(week, seed=1))
        assert items == []
        _, items = draw_sample(s, SamplePlan(week, seed=1, screening_only=False))
        assert sorted(_pks(items)) == mammo


def test_cli_sample_round_trip(tmp_path: Path, test_set, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--db", url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    from auditdesk.store.db import open_database

    db = open_database(url)
    import_paths(db, [test_set.root])
    with db.session() as s:
        uids = list(s.scalars(select(Study.study_uid)))
        day = s.scalar(select(Study.procedure_date).where(Study.kind == "mammo"))
    db.dispose()
    assert (
        run("reviewer", "add", "Rita Review", "--role", "team_leader", "--initials", "RR")[0] == 0
    )
    assert run("reviewer", "add", "Coach Carl", "--role", "coach", "--initials", "CC")[0] == 0
    code, out, err = run(
        "sample", "draw", "--week", day.isoformat(), "--per-technologist", "3",
        "--seed", "11", "--second-share", "0.5", "--reviewer", "Rita Review", "Coach Carl",
        "--by", "Rita Review",
    )  # fmt: skip
    assert code == 0, err
    assert "seed 11" in out
    code, out, _ = run("sample", "show", "--json")
    data = json.loads(out)
    assert data["plan"]["seed"] == 11 and data["plan"]["created_by"] == "Rita Review"
    assert data["plan"]["reviewers"] == ["Rita Review", "Coach Carl"]
    assert len(data["items"]) == 2
    assert {i["reviewer"] for i in data["items"]} == {"Rita Review", "Coach Carl"}
    code, text, _ = run("sample", "show", "--week", day.isoformat())
    assert code == 0 and "seed 11" in text and "Rita Review" in text
    for shown in (out, text):  # no UIDs or patient IDs
        assert not any(uid in shown for uid in uids)
        assert "patient" not in shown.lower()

    for argv, words in [
        (("sample", "draw", "--week", "soon"), "not a date"),
        (("sample", "draw", "--week", day.isoformat(), "--reviewer", "Nobody"), "No reviewer"),
        (("sample", "show", "--week", "2020-01-01"), "No sample"),
    ]:
        code, _, err = run(*argv)
        assert code == 1 and words in err and err.count("\n") == 1
    with pytest.raises(SystemExit):
        run("sample", "draw", "--week", day.isoformat(), "--second-share", "2")
