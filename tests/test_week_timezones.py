"""Week assignment near midnight with a time-zone offset in the header.

The rule: an exam's procedure date is the LOCAL date at the site where it was done — Study Date
as written by the modality — never shifted to UTC by Timezone Offset From UTC (0008,0201) or by
an offset inside a DT value, and never by the time zone of the machine running AuditDesk. So
Saturday 23:59 at -05:00 (already Sunday in UTC) stays in its Saturday's week, and Sunday 00:01
at +11:00 (still Saturday in UTC) starts the new week. Each test runs with the machine's zone
set to UTC, Pacific/Auckland (+13:00 in March) and America/Los_Angeles (-08:00).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid
from sqlalchemy import select

from auditdesk.checklists.rules import answer_keys, item_for_key
from auditdesk.dicom.index import import_paths
from auditdesk.exchange.weekly import weekly_rows
from auditdesk.qi.measures import exam_results, weekly
from auditdesk.reading.auditing import AuditSession, find_checklist
from auditdesk.reading.worklist import WorklistFilter, list_worklist, week_start
from auditdesk.store.audits import create_reviewer
from auditdesk.store.models import Study

CHECKLIST = "acr-mammo-positioning"
SATURDAY, SUNDAY = dt.date(2026, 3, 7), dt.date(2026, 3, 8)
# The reporting weeks by hand: Sun 1 March – Sat 7 March, and Sun 8 March – Sat 14 March 2026.
WEEK_OF_SATURDAY, WEEK_OF_SUNDAY = dt.date(2026, 3, 1), dt.date(2026, 3, 8)
#: (name, header values). UTC of each, by hand: 23:59-05:00 on Sat 7 = Sun 8 04:59 UTC;
#: 00:01+11:00 on Sun 8 = Sat 7 13:01 UTC; so a UTC shift would swap both weeks.
CASES = {
    "sat_2359_minus5": {
        "StudyDate": "20260307",
        "StudyTime": "235900",
        "TimezoneOffsetFromUTC": "-0500",
        "AcquisitionDateTime": "20260307235900-0500",
    },
    "sun_0001_plus11": {
        "StudyDate": "20260308",
        "StudyTime": "000100",
        "TimezoneOffsetFromUTC": "+1100",
        "AcquisitionDateTime": "20260308000100+1100",
    },
    # No Study/Acquisition/Content/Series Date at all: only a DT with its own offset.
    "dt_only_sat_2359_minus5": {"AcquisitionDateTime": "20260307235900.000000-0500"},
}
EXPECTED_DATE = {
    "sat_2359_minus5": SATURDAY,
    "sun_0001_plus11": SUNDAY,
    "dt_only_sat_2359_minus5": SATURDAY,
}
DATE_TAGS = ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")
TIME_TAGS = ("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime")


@pytest.fixture(params=["UTC", "Pacific/Auckland", "America/Los_Angeles"])
def machine_tz(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """The process's local time zone, as on a workstation in that zone."""
    if not hasattr(time, "tzset"):
        pytest.fail("time.tzset is POSIX-only; this test needs a POSIX machine")
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def _write_cases(test_set, root: Path) -> dict[str, str]:
    """A copy of the test set's first mammogram (all its files) per case, with new UIDs and the
    case's date/time tags (every other date and time removed). Returns case -> Study UID."""
    source = next(s for s in test_set.studies if s.kind == "mammo")
    uids = {}
    for case, values in CASES.items():
        study_uid = generate_uid()
        series_uids: dict[str, str] = {}
        folder = root / case
        folder.mkdir(parents=True)
        for n, f in enumerate(source.files):
            ds = pydicom.dcmread(f.path)
            ds.StudyInstanceUID = study_uid
            ds.SeriesInstanceUID = series_uids.setdefault(ds.SeriesInstanceUID, generate_uid())
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.AccessionNumber = f"TZ{len(uids)}"
            for keyword in (*DATE_TAGS, *TIME_TAGS, "AcquisitionDateTime"):
                if keyword in ds:
                    delattr(ds, keyword)
            for keyword, value in values.items():
                setattr(ds, keyword, value)
            ds.save_as(folder / f"{n}.dcm", enforce_file_format=True)
        uids[case] = study_uid
    return uids


def _audit_all_pass(db, study_pk: int, reviewer_pk: int) -> None:
    checklist = find_checklist(CHECKLIST)
    audit = AuditSession.start(db, study_pk=study_pk, reviewer_pk=reviewer_pk, checklist=checklist)
    for key in answer_keys(checklist):
        item = item_for_key(checklist, key)
        if item.required and item.type == "pass_fail":
            audit.answer(key, "pass")
    audit.complete()


def test_week_start_of_an_aware_datetime_keeps_its_local_date(machine_tz: str) -> None:
    minus5 = dt.timezone(dt.timedelta(hours=-5))
    plus11 = dt.timezone(dt.timedelta(hours=11))
    assert week_start(dt.datetime(2026, 3, 7, 23, 59, tzinfo=minus5)) == WEEK_OF_SATURDAY
    assert week_start(dt.datetime(2026, 3, 8, 0, 1, tzinfo=plus11)) == WEEK_OF_SUNDAY
    assert week_start(dt.datetime(2026, 3, 7, 23, 59)) == WEEK_OF_SATURDAY  # naive: as written


def test_procedure_date_is_the_local_date_in_the_header(
    machine_tz: str, db, test_set, tmp_path: Path
) -> None:
    uids = _write_cases(test_set, tmp_path / "tz")
    summary = import_paths(db, [tmp_path / "tz"])
    n_files = len(next(s for s in test_set.studies if s.kind == "mammo").files)
    assert summary.added == n_files * len(CASES) and not summary.skipped, summary.to_dict()
    with db.transaction() as session:
        me = create_reviewer(session, "Tess Zone", "technologist", "TZ").id
        studies = {s.study_uid: s for s in session.scalars(select(Study))}
        pks = {case: studies[uid].id for case, uid in uids.items()}
        for case, uid in uids.items():
            study = studies[uid]
            assert study.procedure_date == EXPECTED_DATE[case], case
            assert study.procedure_datetime.date() == EXPECTED_DATE[case], case
            assert study.procedure_datetime.tzinfo is None  # wall-clock time, as acquired
        assert studies[uids["sat_2359_minus5"]].procedure_datetime == dt.datetime(
            2026, 3, 7, 23, 59
        )
        assert studies[uids["sun_0001_plus11"]].procedure_datetime == dt.datetime(2026, 3, 8, 0, 1)

    # The worklist's week filter puts each exam in its own local week.
    with db.session() as session:
        sat_week = list_worklist(session, me, WorklistFilter(week=SATURDAY))
        sun_week = list_worklist(session, me, WorklistFilter(week=SUNDAY))
    assert {r.study_pk for r in sat_week} == {
        pks["sat_2359_minus5"],
        pks["dt_only_sat_2359_minus5"],
    }
    assert {r.study_pk for r in sun_week} == {pks["sun_0001_plus11"]}

    # ... and so do the measure and the weekly submission.
    for case in CASES:
        _audit_all_pass(db, pks[case], me)
    with db.session() as session:
        weeks = weekly(exam_results(session, CHECKLIST))
        rows = weekly_rows(session)
    assert [(w.week_start, w.rate.denominator) for w in weeks] == [
        (WEEK_OF_SATURDAY, 2),
        (WEEK_OF_SUNDAY, 1),
    ]
    assert [(r["week_start"], r["denominator"]) for r in rows] == [
        ("2026-03-01", 2),
        ("2026-03-08", 1),
    ]
