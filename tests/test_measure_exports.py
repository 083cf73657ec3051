"""The weekly exports name the special causes and partial weeks; a range that cuts a
Sunday–Saturday week is snapped (and says so) or refused; the rules, the small-n flag and the
cut-week policy are site settings set from the CLI.

The counted exams are hand-built (``site_exam_results`` replaced), so every weekly x/n is known:
16 weeks from Sunday 2026-01-04 with 25 exams each, 21 meeting criteria in weeks 0-7 (0.84) and
19 in weeks 8-15 (0.76). Hand computation (qicharts2 p-chart, domain notes §5.2): p̄ =
(8·21 + 8·19) / 400 = 0.80, σ = √(0.8·0.2/25) = 0.08, limits 0.56 … 1.04 → 1, 2σ band
0.64 … 0.96. Nothing is outside or beyond 2σ, 0.84/0.76 repeat (no rises), and weeks 0-7 are 8
above the centre line and weeks 8-15 8 below: the "8 in a row" rule, and only it, flags every
week (domain notes §5.3).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from alembic import command
from openpyxl import load_workbook
from sqlalchemy import text

from auditdesk.cli import main
from auditdesk.exchange import weekly as weekly_export
from auditdesk.qi import site
from auditdesk.qi.measures import ExamResult
from auditdesk.qi.week_range import WeekRangeError, is_partial, week_end, whole_weeks
from auditdesk.store.db import alembic_config, make_engine, open_database

FIRST = dt.date(2026, 1, 4)  # Sunday
WEEKS = 16
N = 25
SHIFT = "8 in a row on one side of the centre line"


def _results() -> list[ExamResult]:
    out = []
    pk = 0
    for week in range(WEEKS):
        start = FIRST + dt.timedelta(weeks=week)
        meets = 21 if week < 8 else 19
        for k in range(N):
            pk += 1
            day = start + dt.timedelta(days=k % 7)
            out.append(
                ExamResult(
                    study_pk=pk,
                    study_uid=f"1.2.3.{pk}",
                    procedure_date=day,
                    week_start=start,
                    technologist="Tech A",
                    location=None,
                    evaluator="Rita Lead",
                    audit_pk=pk,
                    checklist_id="acr-mammo-positioning",
                    meets=k < meets,
                    double_read=False,
                    criteria={},
                    learning_opportunity=False,
                )
            )
    return out


@pytest.fixture
def series(db, monkeypatch: pytest.MonkeyPatch):
    """The hand-built exams in place of the database's; records the range each export asked."""
    results = _results()
    asked: list[tuple[dt.date | None, dt.date | None]] = []

    def fake(session, start=None, end=None):
        asked.append((start, end))
        chosen = [
            r
            for r in results
            if (start is None or r.procedure_date >= start)
            and (end is None or r.procedure_date <= end)
        ]
        return site.get_site(session), chosen

    monkeypatch.setattr(weekly_export, "site_exam_results", fake)
    with db.transaction() as session:
        site.save_site(session, site.SiteSettings(site_name="Riverside", site_id="RBC01"))
    return db, asked


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as fp:
        return list(csv.DictReader(fp))


# --------------------------------------------------------------------------------------------
# whole weeks and partial weeks (pure)
# --------------------------------------------------------------------------------------------


def test_a_range_starting_on_a_wednesday_snaps_or_is_refused() -> None:
    wed, tue = dt.date(2026, 3, 4), dt.date(2026, 3, 10)
    span = whole_weeks(wed, tue, "snap")
    assert (span.start, span.end) == (dt.date(2026, 3, 1), dt.date(2026, 3, 14))
    assert span.snapped
    assert span.message() == (
        "Snapped to whole Sunday–Saturday weeks: 2026-03-01 to 2026-03-14 "
        "(asked for 2026-03-04 to 2026-03-10)."
    )
    with pytest.raises(WeekRangeError) as exc:
        whole_weeks(wed, tue, "refuse")
    assert str(exc.value) == (
        "The period starts on Wednesday 2026-03-04 inside the week of Sunday 2026-03-01 and "
        "ends on Tuesday 2026-03-10 inside the week ending Saturday 2026-03-14; give a Sunday "
        "as the first day and a Saturday as the last, or let the export snap to whole weeks."
    )
    # Whole weeks (and open ends) pass unchanged, even when refusing.
    whole = whole_weeks(dt.date(2026, 3, 1), dt.date(2026, 3, 14), "refuse")
    assert not whole.snapped and (whole.start, whole.end) == (whole.asked_start, whole.asked_end)
    assert whole_weeks(None, None, "refuse").start is None
    with pytest.raises(WeekRangeError, match="after it ends"):
        whole_weeks(tue, wed)
    with pytest.raises(ValueError, match="snap or refuse"):
        whole_weeks(wed, tue, "round")


def test_partial_week_needs_its_saturday_after_today() -> None:
    sunday = dt.date(2026, 3, 1)
    assert week_end(sunday) == week_end(dt.date(2026, 3, 5)) == dt.date(2026, 3, 7)
    assert is_partial(sunday, today=dt.date(2026, 3, 6))  # Friday: Saturday still to come
    assert not is_partial(sunday, today=dt.date(2026, 3, 7))  # Saturday itself: complete
    assert not is_partial(sunday, today=dt.date(2026, 3, 9))


# --------------------------------------------------------------------------------------------
# the weekly files
# --------------------------------------------------------------------------------------------


def test_csv_names_the_rules_and_the_partial_week(series, tmp_path: Path) -> None:
    db, _asked = series
    path = tmp_path / "w.csv"
    today = dt.date(2026, 4, 22)  # a Wednesday in the last week (Sunday 2026-04-19)
    with db.session() as session:
        assert weekly_export.write_weekly(session, path, "csv", today=today) == WEEKS
    rows = _csv(path)
    assert [r["week_start"] for r in rows][-1] == "2026-04-19"
    assert [(r["numerator"], r["denominator"]) for r in rows[:2]] == [("21", "25"), ("21", "25")]
    assert all(r["special_causes"] == SHIFT for r in rows)
    assert [r["partial_week"] for r in rows] == [""] * (WEEKS - 1) + ["partial"]
    # The day after the last Saturday, no week is partial.
    with db.session() as session:
        rows = weekly_export.weekly_rows(session, today=dt.date(2026, 4, 26))
    assert {r["partial_week"] for r in rows} == {""}


def test_switched_off_rule_leaves_the_column_empty(series, tmp_path: Path) -> None:
    db, _asked = series
    with db.transaction() as session:
        settings = site.get_site(session)
        settings.spc_rules = "outside,trend,two-of-three"
        site.save_site(session, settings)
    with db.session() as session:
        rows = weekly_export.weekly_rows(session, today=dt.date(2026, 12, 1))
    assert {r["special_causes"] for r in rows} == {""}


def test_xlsx_and_json_carry_the_same_flags(series, tmp_path: Path) -> None:
    db, _asked = series
    today = dt.date(2026, 4, 22)
    with db.session() as session:
        weekly_export.write_weekly(session, tmp_path / "w.xlsx", "xlsx", today=today)
        weekly_export.write_weekly(session, tmp_path / "w.json", "json", today=today)
    ws = load_workbook(tmp_path / "w.xlsx")["Weekly submission"]
    header = [c.value for c in ws[1]]
    last = [c.value for c in ws[ws.max_row]]
    record = dict(zip(header, last, strict=True))
    assert record["special_causes"] == SHIFT and record["partial_week"] == "partial"
    data = json.loads((tmp_path / "w.json").read_text(encoding="utf-8"))
    assert data["special_cause_rules"] == [
        "Point outside the control limits",
        SHIFT,
        "6 in a row rising or falling",
        "2 of 3 beyond 2 sigma on one side",
    ]
    assert data["weeks"][0]["special_causes"] == SHIFT
    assert [w["partial_week"] for w in data["weeks"]][-2:] == ["", "partial"]


def test_export_snaps_a_range_starting_on_a_wednesday(series, tmp_path: Path) -> None:
    db, asked = series
    with db.session() as session:
        # Wednesday 2026-01-07 to Wednesday 2026-01-14: the weeks of 4 and 11 January, whole.
        rows = weekly_export.weekly_rows(
            session, start=dt.date(2026, 1, 7), end=dt.date(2026, 1, 14), today=dt.date(2026, 9, 1)
        )
        assert asked[-1] == (dt.date(2026, 1, 4), dt.date(2026, 1, 17))
        assert [(r["week_start"], r["denominator"]) for r in rows] == [
            ("2026-01-04", 25),
            ("2026-01-11", 25),
        ]
        with pytest.raises(WeekRangeError, match="Wednesday 2026-01-07"):
            weekly_export.weekly_rows(
                session, start=dt.date(2026, 1, 7), end=dt.date(2026, 1, 17), week_policy="refuse"
            )


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_snaps_and_says_so(series, tmp_path: Path, capsys) -> None:
    db, asked = series
    url = db.url
    path = tmp_path / "w.csv"
    code, out, err = run(
        capsys, "--db", url, "export", "weekly", "-o", str(path),
        "--from", "2026-01-07", "--to", "2026-01-14", "--today", "2026-01-13",
    )  # fmt: skip
    assert code == 0, err
    assert (
        "Snapped to whole Sunday–Saturday weeks: 2026-01-04 to 2026-01-17 "
        "(asked for 2026-01-07 to 2026-01-14)." in out
    )
    assert "Wrote 2 week(s) (2026-01-04 to 2026-01-17)" in out
    assert asked[-1] == (dt.date(2026, 1, 4), dt.date(2026, 1, 17))
    rows = _csv(path)
    # today = Tuesday 2026-01-13: the week of 11 January (Saturday the 17th) is in progress.
    assert [(r["week_start"], r["partial_week"]) for r in rows] == [
        ("2026-01-04", ""),
        ("2026-01-11", "partial"),
    ]


def test_cli_refuses_a_cut_week_and_writes_nothing(series, tmp_path: Path, capsys) -> None:
    db, _asked = series
    url = db.url
    path = tmp_path / "w.csv"
    code, out, err = run(
        capsys, "--db", url, "export", "weekly", "-o", str(path),
        "--from", "2026-01-07", "--to", "2026-01-17", "--weeks", "refuse",
    )  # fmt: skip
    assert code == 2
    assert "starts on Wednesday 2026-01-07 inside the week of Sunday 2026-01-04" in err
    assert not path.exists() and out == ""
    # The site setting refuses too; --weeks snap overrides it.
    assert run(capsys, "--db", url, "site", "set", "--week-policy", "refuse")[0] == 0
    code, _out, err = run(
        capsys, "--db", url, "export", "weekly", "-o", str(path), "--from", "2026-01-07"
    )
    assert code == 2 and "Wednesday" in err and not path.exists()
    code, out, _err = run(
        capsys, "--db", url, "export", "weekly", "-o", str(path),
        "--from", "2026-01-07", "--weeks", "snap",
    )  # fmt: skip
    assert code == 0 and "Snapped" in out and path.exists()


def test_cli_site_switches_rules_small_n_and_policy(db, capsys) -> None:
    url = db.url
    code, out, _ = run(capsys, "--db", url, "site", "show", "--json")
    shown = json.loads(out)
    assert (shown["spc_rules"], shown["spc_small_np"], shown["week_policy"]) == (
        "outside,shift,trend,two-of-three",
        5.0,
        "snap",
    )
    code, out, err = run(
        capsys, "--db", url, "site", "set", "--rule-off", "shift", "--rule-off", "trend",
        "--small-np", "6", "--week-policy", "refuse",
    )  # fmt: skip
    assert code == 0, err
    assert "outside,two-of-three" in out
    with db.session() as session:
        settings = site.get_site(session)
    assert site.enabled_rules(settings) == {"outside", "two-of-three"}
    assert (settings.spc_small_np, settings.week_policy) == (6.0, "refuse")
    assert (
        run(capsys, "--db", url, "site", "set", "--rule-on", "trend", "--small-np", "off")[0] == 0
    )
    with db.session() as session:
        settings = site.get_site(session)
    assert settings.spc_rules == "outside,trend,two-of-three" and settings.spc_small_np == 0.0
    # Bad input: one sentence naming the valid values; nothing changes.
    code, _, err = run(capsys, "--db", url, "site", "set", "--spc-rules", "outside,bogus")
    assert code == 1 and "'bogus'" in err and "outside, shift, trend, two-of-three" in err
    code, _, err = run(capsys, "--db", url, "site", "set", "--small-np", "-2")
    assert code == 1 and "from 0 (off) to 100" in err
    with db.session() as session:
        assert site.get_site(session).spc_rules == "outside,trend,two-of-three"


def test_small_n_setting_changes_the_flag(db) -> None:
    """Saved setting -> chart flag: n = 10, p̄ = 0.8 gives n·(1 − p̄) = 2."""
    from auditdesk.qi.measures import WeekRow, make_rate
    from auditdesk.qi.weekly_chart import weekly_chart

    rows = [WeekRow(FIRST + dt.timedelta(weeks=i), make_rate(8, 10)) for i in range(3)]
    for limit, flagged in ((5.0, True), (2.0, False), (0.0, False), (2.5, True)):
        with db.transaction() as session:
            settings = site.get_site(session)
            settings.spc_small_np = limit
            site.save_site(session, settings)
        with db.session() as session:
            saved = site.get_site(session).spc_small_np
        chart = weekly_chart(rows, small_np=saved, today=FIRST).chart
        assert [p.small_np for p in chart.points] == [flagged] * 3, limit


def test_an_upgraded_database_keeps_todays_behaviour(tmp_path: Path) -> None:
    """Revision 0005_spc: an existing site row gets every rule on, 5 and "snap"."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    command.upgrade(alembic_config(engine), "0004")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO site_settings (id, site_name, site_id, organisation, collaborative, "
                "checklist_id, is_demo, updated_at) VALUES (1, 'Old', 'OLD1', '', '', "
                "'acr-mammo-positioning', 0, '2026-01-01 00:00:00')"
            )
        )
    engine.dispose()
    db = open_database(f"sqlite:///{tmp_path / 'old.sqlite'}")
    try:
        with db.session() as session:
            settings = site.get_site(session)
    finally:
        db.dispose()
    assert settings.site_name == "Old"
    assert (settings.spc_rules, settings.spc_small_np, settings.week_policy) == (
        "outside,shift,trend,two-of-three",
        5.0,
        "snap",
    )
