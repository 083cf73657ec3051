"""Exports for the collaborative: the weekly submission, and helpers both exports share (no Qt).

* **Weekly submission** (CSV, XLSX or JSON): one row per Sunday–Saturday week with the counts the
  Learning Network Hub asks for — exams meeting criteria (numerator) and exams audited
  (denominator) — plus the rate, the p-chart special-cause rules that flag the week (in words,
  :mod:`auditdesk.qi.weekly_chart`) and "partial" for a week still in progress. A range that cuts a
  week is snapped to whole weeks or refused (:mod:`auditdesk.qi.week_range`). ``breakdowns`` adds
  aggregate failure counts per criterion and counts per location; nothing in it identifies an
  exam.
* The per-exam sheet lives in :mod:`auditdesk.exchange.exam_sheet` and uses the helpers here.

Which audit counts for an exam, and which exams count at all, is decided in
:mod:`auditdesk.qi.measures`; the site's name, id, measure checklist and demo flag come from
:mod:`auditdesk.qi.site`. Every text cell goes through :func:`safe_cell`, so a name typed as
``=HYPERLINK(...)`` is never run as a formula by a spreadsheet program. Demo data are marked in
every output ("DEMO" column, a banner row in XLSX, ``"demo": true`` in JSON).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from auditdesk.exchange.formats import WEEKLY_FORMATS

if TYPE_CHECKING:
    from auditdesk.qi.measures import ExamResult
    from auditdesk.qi.site import SiteSettings


#: The columns of every weekly row, in order.
WEEKLY_COLUMNS = (
    "site_id",
    "site",
    "collaborative",
    "week_start",
    "numerator",
    "denominator",
    "rate",
    "not_evaluable",
    "not_evaluable_reasons",
    "demo",
    "special_causes",
    "partial_week",
)
#: Row-level site fields; JSON carries them once at the top instead.
_SITE_COLUMNS = ("site_id", "site", "collaborative", "demo")
FAILED_PREFIX = "failed:"
LOCATION_PREFIX = "location:"
DEMO_MARK = "DEMO"
DEMO_BANNER = "DEMO DATA — not for submission"
WEEKLY_SHEET = "Weekly submission"

#: Leading characters that make a spreadsheet program read a cell as a formula (or DDE call).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A cell value that no spreadsheet program runs as a formula.

    Text starting with ``=``, ``+``, ``-``, ``@``, TAB or CR gets a leading apostrophe (OWASP
    "CSV injection"); numbers, dates, booleans and ``None`` pass unchanged.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# --------------------------------------------------------------------------------------------
# gathering
# --------------------------------------------------------------------------------------------


def site_exam_results(
    session: Session, start: dt.date | None = None, end: dt.date | None = None
) -> tuple[SiteSettings, list[ExamResult]]:
    """The site's settings and its counted exams: the measure checklist, technologists and
    locations resolved, sampled primary reviewers first (one place for exports and reports)."""
    from auditdesk.qi import measures, sampling, site

    settings = site.get_site(session)
    primary = sampling.primary_reviewer_map(session)  # one query, not one per exam

    results = measures.exam_results(
        session,
        settings.checklist_id,
        start=start,
        end=end,
        technologist_of=site.technologist_resolver(session),
        location_of=site.location_resolver(session),
        primary_of=primary.get,
    )
    return settings, results


def _checklist(checklist_id: str) -> Any:
    from auditdesk.reading.auditing import find_checklist

    return find_checklist(checklist_id)


def _criteria(results: list[ExamResult], checklist: Any) -> list[tuple[str, str]]:
    """(criterion id, label) in checklist order, then any criterion only the audits name."""
    from auditdesk.qi.measures import by_criterion

    columns = [(row.criterion, row.label) for row in by_criterion(results, checklist)]
    known = {cid for cid, _ in columns}
    extra = sorted({cid for r in results for cid in r.criteria} - known)
    return columns + [(cid, cid) for cid in extra]


def weekly_rows(
    session: Session,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    breakdowns: bool = False,
    today: dt.date | None = None,
    week_policy: str | None = None,
) -> list[dict[str, Any]]:
    """One row per week with counted exams (oldest first), by procedure date, ``start``/``end``
    inclusive after snapping them to whole weeks (``week_policy`` "snap"), or
    :class:`~auditdesk.qi.week_range.WeekRangeError` when they cut a week and the policy is
    "refuse" (None: the site's setting).

    Keys: :data:`WEEKLY_COLUMNS` (``week_start`` an ISO date, a Sunday; ``rate`` rounded to 3
    decimals; ``not_evaluable`` the exams of the week left out of both numbers because a view or
    sequence was not assessed, ``not_evaluable_reasons`` why, with counts; ``demo`` "DEMO" or
    ""; ``special_causes`` the names of the switched-on p-chart rules that flag the week,
    "; "-separated, "" when none; ``partial_week`` "partial" when the week's Saturday is after
    ``today`` (default: the computer's date), else "").

    With ``breakdowns``: ``failed:<criterion id>`` (exams in the week failing that criterion on
    any view) for every criterion of the measure checklist, and ``location:<name>:numerator`` /
    ``location:<name>:denominator`` for every location seen in the period.
    """
    from auditdesk.qi.measures import by_location, weekly
    from auditdesk.qi.site import enabled_rules, get_site, list_annotations
    from auditdesk.qi.spc_rules import rule_text
    from auditdesk.qi.week_range import PARTIAL, is_partial, whole_weeks
    from auditdesk.qi.weekly_chart import weekly_chart

    policy = week_policy or get_site(session).week_policy
    span = whole_weeks(start, end, policy)
    settings, results = site_exam_results(session, span.start, span.end)
    week_rows = weekly(results)
    measure = weekly_chart(
        week_rows,
        rules=enabled_rules(settings),
        small_np=settings.spc_small_np,
        phase_starts=[a.date for a in list_annotations(session) if a.starts_phase],
        today=today,
    )
    flags = measure.rules_by_week()
    base = {
        "site_id": settings.site_id,
        "site": settings.site_name,
        "collaborative": settings.collaborative,
    }
    demo = DEMO_MARK if settings.is_demo else ""
    criteria: list[tuple[str, str]] = []
    locations: list[str] = []
    if breakdowns:
        criteria = _criteria(results, _checklist(settings.checklist_id))
        locations = sorted(by_location(results))
    rows: list[dict[str, Any]] = []
    for week in week_rows:
        rate = week.rate
        partial = is_partial(week.week_start, measure.today)
        row: dict[str, Any] = {
            **base,
            "week_start": week.week_start.isoformat(),
            "numerator": rate.numerator,
            "denominator": rate.denominator,
            "rate": None if rate.rate is None else round(rate.rate, 3),
            "not_evaluable": rate.not_evaluable,
            "not_evaluable_reasons": "; ".join(
                f"{reason} ({count})" for reason, count in week.not_evaluable_reasons.items()
            ),
            "demo": demo,
            "special_causes": rule_text(flags.get(week.week_start, ())),
            "partial_week": PARTIAL if partial else "",
        }
        if breakdowns:
            in_week = [r for r in results if r.week_start == week.week_start]
            for cid, _label in criteria:
                row[FAILED_PREFIX + cid] = sum(1 for r in in_week if r.criteria.get(cid) == "fail")
            per_location = by_location(in_week)
            for name in locations:
                loc = per_location.get(name)
                row[f"{LOCATION_PREFIX}{name}:numerator"] = loc.numerator if loc else 0
                row[f"{LOCATION_PREFIX}{name}:denominator"] = loc.denominator if loc else 0
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


@contextmanager
def _atomic(path: Path, mode: str, **kwargs: Any) -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path`` and move it into place only when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as fp:
            yield fp
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _text(value: object) -> object:
    """A cell value for openpyxl: safe text with characters XML cannot hold removed."""
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        return safe_cell(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def _set(ws: Any, row: int, column: int, value: object) -> Any:
    """Put one value in a cell; text is always stored as text, never as a formula."""
    cell = ws.cell(row=row, column=column)
    value = _text(value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _save_workbook(wb: Any, path: Path) -> None:
    with _atomic(path, "wb") as fp:
        wb.save(fp)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns = list(WEEKLY_COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def _write_weekly_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """UTF-8 with a byte-order mark: Excel on Windows then reads accents and dashes right."""
    columns = _columns(rows)
    with _atomic(path, "w", newline="", encoding="utf-8-sig") as fp:
        writer = csv.writer(fp)
        writer.writerow([safe_cell(c) for c in columns])
        for row in rows:
            writer.writerow(["" if row.get(c) is None else safe_cell(row.get(c)) for c in columns])


def new_sheet(title: str, header: list[str], demo: bool) -> tuple[Any, Any, int]:
    """A workbook of one sheet: a red DEMO banner row for demo data, then a bold header row
    frozen in place. Returns (workbook, sheet, header row number): rows follow below it."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = title
    r = 1
    if demo:
        _set(ws, r, 1, DEMO_BANNER).font = Font(bold=True, color="C00000")
        r += 1
    for c, name in enumerate(header, start=1):
        _set(ws, r, c, name).font = Font(bold=True)
    ws.freeze_panes = ws.cell(row=r + 1, column=1)
    return wb, ws, r


def _write_weekly_xlsx(path: Path, rows: list[dict[str, Any]], demo: bool) -> None:
    columns = _columns(rows)
    wb, ws, r = new_sheet(WEEKLY_SHEET, columns, demo)
    for row in rows:
        r += 1
        for c, name in enumerate(columns, start=1):
            _set(ws, r, c, row.get(name))
    _save_workbook(wb, path)


def _write_weekly_json(path: Path, rows: list[dict[str, Any]], settings: SiteSettings) -> None:
    from auditdesk.qi.site import enabled_rules
    from auditdesk.qi.spc_rules import RULE_NAMES

    data = {
        "site": settings.site_name,
        "site_id": settings.site_id,
        "collaborative": settings.collaborative,
        "checklist": settings.checklist_id,
        "demo": bool(settings.is_demo),
        "special_cause_rules": [RULE_NAMES[k] for k in RULE_NAMES if k in enabled_rules(settings)],
        "generated_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "weeks": [{k: v for k, v in row.items() if k not in _SITE_COLUMNS} for row in rows],
    }
    with _atomic(path, "w", encoding="utf-8") as fp:
        json.dump(data, fp, indent=2, ensure_ascii=False)
        fp.write("\n")


def write_weekly(
    session: Session,
    path: str | Path,
    fmt: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    breakdowns: bool = False,
    today: dt.date | None = None,
    week_policy: str | None = None,
) -> int:
    """Write the weekly submission as ``csv``, ``xlsx`` or ``json``; returns the rows written.

    ``start``/``end`` are snapped to whole weeks or refused as :func:`weekly_rows` says (a
    refusal writes nothing); ``today`` decides which weeks are partial. The file is replaced
    only once it is complete. With no counted exam in the period the file
    holds the header (CSV, XLSX) or an empty ``weeks`` list (JSON) and 0 is returned.
    """
    from auditdesk.qi.site import get_site

    fmt = fmt.lower()
    if fmt not in WEEKLY_FORMATS:
        raise ValueError(f"Unknown format {fmt!r}; use one of {', '.join(WEEKLY_FORMATS)}.")
    path = Path(path)
    rows = weekly_rows(
        session,
        start=start,
        end=end,
        breakdowns=breakdowns,
        today=today,
        week_policy=week_policy,
    )
    settings = get_site(session)
    if fmt == "csv":
        _write_weekly_csv(path, rows)
    elif fmt == "xlsx":
        _write_weekly_xlsx(path, rows, settings.is_demo)
    else:
        _write_weekly_json(path, rows, settings)
    return len(rows)
