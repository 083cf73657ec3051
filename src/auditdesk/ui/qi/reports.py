"""PDF reports for the team leader: the weekly report and a technologist's own feedback.

Each report is HTML laid out by ``QTextDocument`` and printed with ``QPdfWriter`` (A4), which
works offscreen and needs nothing beyond Qt. The HTML builders are public so tests (and the
user, via "copy as HTML" later) can check the text itself: PDFs are compressed.

Privacy: reports name exams by their pseudonymous key only (never patient names, IDs,
accession numbers or UIDs). The feedback report is about one technologist: it names nobody
else, not even the evaluators (a reviewer may be a peer technologist), and leaves out free-text
comments, which could mention anyone.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMarginsF, QSizeF, QUrl
from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import QApplication
from sqlalchemy.orm import Session

from auditdesk.qi import measures, site, spc
from auditdesk.qi.measures import ExamResult, Rate, WeekRow
from auditdesk.reading.weeks import week_start
from auditdesk.store.db import Database

DEFAULT_WEEKS = 12
CHART_SRC = "chart.png"
FEEDBACK_EXAMPLES = 10
RESOLUTION = 150  # PDF dots per inch: A4 text width (180 mm) is about 1060 dots
IMAGE_WIDTH = 1000


# --------------------------------------------------------------------------------------------
# Data shared by the reports and the dashboard
# --------------------------------------------------------------------------------------------


@dataclass
class QIData:
    """Everything a report or the dashboard shows for one period, gathered in one place."""

    settings: site.SiteSettings
    start: dt.date | None
    end: dt.date | None
    results: list[ExamResult]
    annotations: list[site.Annotation]
    checklist: Any | None
    secret: bytes = b""
    labels: dict[str, str] = field(default_factory=dict)  # criterion id -> label

    @property
    def weeks(self) -> list[WeekRow]:
        return measures.weekly(self.results)

    def exam_key(self, result: ExamResult) -> str:
        """The pseudonymous key of an exam (never the UID itself)."""
        return site.exam_key(self.secret, result.study_uid)

    def criterion_label(self, criterion: str) -> str:
        return self.labels.get(criterion, criterion.replace("_", " "))


def default_range(
    today: dt.date | None = None, weeks: int = DEFAULT_WEEKS
) -> tuple[dt.date, dt.date]:
    """The last ``weeks`` reporting weeks up to today: Sunday ``weeks-1`` weeks back to today."""
    today = today or dt.date.today()
    return week_start(today) - dt.timedelta(weeks=weeks - 1), today


def _checklist(checklist_id: str) -> Any | None:
    """The site's checklist (for criterion labels); None when it is not installed here."""
    from auditdesk.reading.auditing import AuditingError, find_checklist

    try:
        return find_checklist(checklist_id)
    except AuditingError:
        return None


def _labels(checklist: Any | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for section in getattr(checklist, "sections", None) or []:
        for item in section.items:
            labels.setdefault(item.id, item.label)
    return labels


def load_qi_data(
    session: Session, *, start: dt.date | None = None, end: dt.date | None = None
) -> QIData:
    """Site settings, the counted exam results of the period, annotations and the checklist."""
    from auditdesk.exchange.weekly import site_exam_results

    settings, results = site_exam_results(session, start, end)
    checklist = _checklist(settings.checklist_id)
    return QIData(
        settings=settings,
        start=start,
        end=end,
        results=results,
        annotations=site.list_annotations(session),
        checklist=checklist,
        secret=site.site_secret(session),
        labels=_labels(checklist),
    )


@contextmanager
def _session(session_or_db: Session | Database) -> Iterator[Session]:
    if isinstance(session_or_db, Database):
        # A transaction, not a bare session: the first report of a new database creates the
        # pseudonym secret, which must be kept or exam keys would change from one file to the next.
        with session_or_db.transaction() as session:
            yield session
    else:
        yield session_or_db


# --------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------


def make_rate(x: int, n: int) -> Rate:
    """A rate with its Wilson 95 % interval (none when nothing was audited)."""
    if n <= 0:
        return Rate(x, n, None, None, None)
    low, high = measures.wilson(x, n)
    return Rate(x, n, x / n, low, high)


def pct(value: float | None) -> str:
    """A proportion as "82.5 %" ("–" when there is none)."""
    return "–" if value is None else f"{value * 100:.1f} %"


def rate_text(rate: Rate) -> str:
    """ "12 / 15 = 80.0 % (95 % CI 54.8–93.0 %)"."""
    if not rate.denominator:
        return "no exams audited"
    ci = ""
    if rate.ci_low is not None and rate.ci_high is not None:
        ci = f" (95 % CI {rate.ci_low * 100:.1f}–{rate.ci_high * 100:.1f} %)"
    return f"{rate.numerator} / {rate.denominator} = {pct(rate.rate)}{ci}"


def ci_text(rate: Rate) -> str:
    if rate.ci_low is None or rate.ci_high is None:
        return "–"
    return f"{rate.ci_low * 100:.1f}–{rate.ci_high * 100:.1f} %"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _day(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def _period(start: dt.date | None, end: dt.date | None) -> str:
    if start and end:
        return f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"
    if start:
        return f"from {start:%Y-%m-%d}"
    if end:
        return f"up to {end:%Y-%m-%d}"
    return "all weeks"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], numeric_from: int = 1) -> str:
    """A report table of plain values (escaped here)."""
    return html_table(headers, [[_e(v) for v in row] for row in rows], numeric_from)


def html_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric_from: int = 1,
    widths: Sequence[int] | None = None,
) -> str:
    """A report table whose cells are already HTML (escaped by the caller); widths in %;
    columns from ``numeric_from`` on are right-aligned."""

    def width(i: int) -> str:
        return f" width='{widths[i]}%'" if widths and i < len(widths) else ""

    head = "".join(
        f"<th align='{'right' if i >= numeric_from else 'left'}'{width(i)}>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td align='{'right' if i >= numeric_from else 'left'}' valign='top'>{v}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    if not rows:
        body = f"<tr><td colspan='{len(headers)}'><i>none</i></td></tr>"
    return (
        "<table class='grid' cellspacing='0' cellpadding='3' width='100%'>"
        f"<tr class='head'>{head}</tr>{body}</table>"
    )


def _week_cells(w: WeekRow) -> list[object]:
    r = w.rate
    cells: list[object] = [f"{w.week_start:%Y-%m-%d}", r.numerator, r.denominator, pct(r.rate)]
    return [*cells, ci_text(r), r.not_evaluable]


def reasons_text(reasons: dict[str, int]) -> str:
    """ "RCC: every required item answered N/A (2); ..." for a week's not-evaluable exams."""
    return "; ".join(f"{reason} ({count})" for reason, count in reasons.items())


def criterion_cells(c: measures.CriterionRow) -> list[object]:
    return [c.label, c.passed, c.failed, c.not_applicable, pct(c.rate.rate), ci_text(c.rate)]


def _annotation_cells(a: site.Annotation) -> list[object]:
    phase = "yes" if a.starts_phase else ""
    return [f"{a.date:%Y-%m-%d}", a.label, a.pdsa_cycle, phase, a.description]


def rate_cells(name: str, r: Rate) -> list[object]:
    """A roll-up row: name, x, n, rate, CI and the not-evaluable exams counted apart."""
    return [name, r.numerator, r.denominator, pct(r.rate), ci_text(r), r.not_evaluable]


#: Column titles of :func:`rate_cells` after the first.
RATE_HEADERS = ["Meeting criteria", "Audited", "Rate", "95 % CI", "Not evaluable"]


def _rate_rows(groups: dict[str, Rate]) -> list[list[object]]:
    return [rate_cells(name, r) for name, r in groups.items()]


STYLE = """
<style>
body { font-family: 'DejaVu Sans', sans-serif; font-size: 9pt; color: #1a1a1a; }
h1 { font-size: 16pt; margin-bottom: 2px; }
h2 { font-size: 12pt; margin-top: 14px; margin-bottom: 4px; color: #1f4e79; }
p.sub { color: #555555; margin-top: 0; }
table.grid { border-collapse: collapse; }
table.grid td, table.grid th { border: 1px solid #bbbbbb; }
tr.head { background-color: #e8eef5; }
.demo { background-color: #fde2e1; color: #8b1a1a; font-weight: bold; font-size: 11pt;
        border: 2px solid #c62828; padding: 6px; }
.big { font-size: 13pt; font-weight: bold; }
.note { color: #555555; font-size: 8pt; }
</style>
"""


def _demo_banner(settings: site.SiteSettings) -> str:
    if not settings.is_demo:
        return ""
    return (
        "<table width='100%' cellpadding='6'><tr><td class='demo'>DEMO DATA — synthetic audits "
        "for trying AuditDesk out; not for submission.</td></tr></table>"
    )


def _site_title(settings: site.SiteSettings) -> str:
    name = settings.site_name or "Site name not set (Site setup)"
    return name + (f" ({settings.site_id})" if settings.site_id else "")


# --------------------------------------------------------------------------------------------
# Weekly report
# --------------------------------------------------------------------------------------------


def _report_period(
    week: dt.date | None, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date | None, dt.date | None]:
    """The chart's period: the given one, else the 12 weeks ending with the report's week."""
    if start or end:
        return start, end
    if week is not None:
        sunday = week_start(week)
        return sunday - dt.timedelta(weeks=DEFAULT_WEEKS - 1), sunday + dt.timedelta(days=6)
    return default_range()


def _pick_week(data: QIData, week: dt.date | None) -> dt.date | None:
    if week is not None:
        return week_start(week)
    weeks = data.weeks
    return weeks[-1].week_start if weeks else None


def build_weekly_html(data: QIData, week: dt.date | None, chart_src: str | None = CHART_SRC) -> str:
    """The weekly report for ``week`` (a Sunday) from gathered data; the chart is an <img>."""
    s = data.settings
    week_results = [r for r in data.results if r.week_start == week] if week else []
    rate = measures.overall(week_results)
    parts = [f"<html><head>{STYLE}</head><body>"]
    parts.append(f"<h1>Weekly image-quality report — {_e(_site_title(s))}</h1>")
    sub = []
    if s.organisation:
        sub.append(_e(s.organisation))
    if s.collaborative:
        sub.append(_e(s.collaborative))
    if week:
        last = week + dt.timedelta(days=6)
        sub.append(f"Week of {_e(_day(week))} to {_e(_day(last))} (by procedure date)")
    parts.append(f"<p class='sub'>{' · '.join(sub)}</p>")
    parts.append(_demo_banner(s))

    parts.append("<h2>This week</h2>")
    if week is None:
        parts.append("<p>No complete audits in this period.</p>")
    else:
        parts.append(
            f"<p class='big'>Exams meeting criteria: {rate.numerator} of {rate.denominator} "
            f"audited — {_e(pct(rate.rate))}</p>"
        )
        parts.append(f"<p>95 % confidence interval (Wilson): {_e(ci_text(rate))}")
        if s.goal_pct is not None:
            parts.append(f" · goal {s.goal_pct:g} %")
        parts.append("</p>")
        if rate.not_evaluable:
            this = [w.not_evaluable_reasons for w in data.weeks if w.week_start == week]
            reasons = this[0] if this else {}
            parts.append(
                f"<p>Not evaluable, left out of both numbers: {rate.not_evaluable} exam(s) — "
                f"{_e(reasons_text(reasons))}.</p>"
            )
    if chart_src:
        parts.append(f"<p><img src='{_e(chart_src)}' width='{IMAGE_WIDTH}'></p>")

    parts.append(f"<h2>Weekly results, {_e(_period(data.start, data.end))}</h2>")
    parts.append(
        _table(
            ["Week (Sunday)", *RATE_HEADERS],
            [_week_cells(w) for w in data.weeks],
        )
    )

    scope = week_results if week else data.results
    scope_name = "this week" if week else "the period"
    if data.checklist is not None:
        parts.append(f"<h2>By criterion, {scope_name}</h2>")
        parts.append(
            _table(
                ["Criterion", "Pass", "Fail", "N/A", "Pass rate", "95 % CI"],
                [criterion_cells(c) for c in measures.by_criterion(scope, data.checklist)],
            )
        )
    headers = ["", *RATE_HEADERS]
    for title, groups in (
        ("technologist", measures.by_technologist(scope)),
        ("evaluator", measures.by_evaluator(scope)),
        ("location", measures.by_location(scope)),
    ):
        parts.append(f"<h2>By {title}, {scope_name}</h2>")
        parts.append(_table([title.capitalize(), *headers[1:]], _rate_rows(groups)))

    notes = [
        a
        for a in data.annotations
        if (data.start is None or a.date >= data.start) and (data.end is None or a.date <= data.end)
    ]
    if notes:
        parts.append("<h2>Changes tested (PDSA) and events</h2>")
        parts.append(
            _table(
                ["Date", "Label", "PDSA cycle", "New phase", "Description"],
                [_annotation_cells(a) for a in notes],
                numeric_from=99,
            )
        )
    double = sum(r.double_read for r in scope)
    parts.append(
        "<p class='note'>Only complete audits count. "
        + _e(measures.counted_audit_rule())
        + (f" {double} exam(s) {scope_name} were read twice." if double else "")
        + " Exams are named by pseudonymous keys; this report holds no patient data. "
        + f"Generated {dt.datetime.now():%Y-%m-%d %H:%M} by AuditDesk.</p>"
    )
    parts.append("</body></html>")
    return "".join(parts)


def weekly_report_html(
    session_or_db: Session | Database,
    *,
    week: dt.date | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    chart_src: str | None = CHART_SRC,
) -> str:
    """The weekly report's HTML (public so its text can be checked; the PDF is compressed)."""
    with _session(session_or_db) as session:
        a, b = _report_period(week, start, end)
        data = load_qi_data(session, start=a, end=b)
    return build_weekly_html(data, _pick_week(data, week), chart_src)


def _chart_image(
    rows: Sequence[WeekRow],
    title: str,
    goal: float | None,
    annotations: Sequence[Any],
    settings: site.SiteSettings | None = None,
) -> QImage | None:
    """A white-background p-chart image for the PDF (None when there is nothing to draw);
    with the site ``settings``, the special causes it switched on are marked as on screen."""
    if not rows:
        return None
    _ensure_app()
    from auditdesk.ui.qi.measure_chart import MeasureChartWidget

    widget = MeasureChartWidget()
    try:
        widget.resize(1200, 600)
        rules = frozenset() if settings is None else site.enabled_rules(settings)
        small_np = spc.SMALL_NP if settings is None else settings.spc_small_np
        widget.set_weeks(
            rows,
            title=title,
            goal_pct=goal,
            annotations=annotations,
            rules=rules,
            small_np=small_np,
        )
        return widget.to_image(1800, layout_width=900)
    finally:
        widget.deleteLater()


def _ensure_app() -> None:
    if QApplication.instance() is None:  # e.g. called from a script: charts need a QApplication
        QApplication([])
        from auditdesk.ui.common.app_fonts import register_bundled_fonts

        register_bundled_fonts()


def print_html(html_text: str, path: str | Path, images: dict[str, QImage] | None = None) -> None:
    """Print HTML to an A4 PDF at ``path`` (images referenced by name in <img src>)."""
    _ensure_app()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = QPdfWriter(str(target))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter)
    writer.setResolution(RESOLUTION)
    writer.setTitle("AuditDesk report")
    writer.setCreator("AuditDesk")
    document = QTextDocument()
    for name, image in (images or {}).items():
        document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
    document.setHtml(html_text)
    document.setPageSize(QSizeF(writer.width(), writer.height()))
    document.print_(writer)


def write_weekly_report(
    session_or_db: Session | Database,
    path: str | Path,
    *,
    week: dt.date | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> None:
    """Write the weekly PDF report (the latest week with audits unless ``week`` is given)."""
    with _session(session_or_db) as session:
        a, b = _report_period(week, start, end)
        data = load_qi_data(session, start=a, end=b)
    chosen = _pick_week(data, week)
    s = data.settings
    title = f"{s.site_name or 'Site'} — % of exams meeting criteria"
    image = _chart_image(data.weeks, title, s.goal_pct, data.annotations, s)
    html_text = build_weekly_html(data, chosen, CHART_SRC if image is not None else None)
    print_html(html_text, path, {CHART_SRC: image} if image is not None else None)


# --------------------------------------------------------------------------------------------
# Technologist feedback
# --------------------------------------------------------------------------------------------


def _criterion_counts(data: QIData, results: Sequence[ExamResult]) -> list[tuple[str, int, int]]:
    """(criterion id, passed, failed) for every criterion the results answered."""
    counts: dict[str, list[int]] = {}
    for r in results:
        for cid, value in r.criteria.items():
            entry = counts.setdefault(cid, [0, 0])
            if value == "pass":
                entry[0] += 1
            elif value == "fail":
                entry[1] += 1
    order = list(data.labels)
    return sorted(
        ((cid, p, f) for cid, (p, f) in counts.items() if p + f),
        key=lambda t: order.index(t[0]) if t[0] in order else len(order),
    )


def build_feedback_html(data: QIData, technologist: str, chart_src: str | None = CHART_SRC) -> str:
    """One technologist's own results, in a learning tone; names nobody else."""
    mine = [r for r in data.results if r.technologist == technologist]
    s = data.settings
    rate = measures.overall(mine)
    parts = [f"<html><head>{STYLE}</head><body>"]
    parts.append(f"<h1>Positioning feedback for {_e(technologist)}</h1>")
    parts.append(
        f"<p class='sub'>{_e(s.site_name or 'AuditDesk')} · {_e(_period(data.start, data.end))}</p>"
    )
    parts.append(_demo_banner(s))
    parts.append(
        "<p>This summary is for your own learning. The exams in it were sampled at random for "
        "the team's weekly quality audit; it is not a judgement of you or of your work as a "
        "whole. Positioning is a team skill that improves with practice and shared tips, and "
        "the numbers below are here to help you see what already works and where one small "
        "change could help most.</p>"
    )
    parts.append("<h2>Your results</h2>")
    if not mine:
        parts.append("<p>None of your exams were audited in this period.</p>")
    else:
        parts.append(
            f"<p class='big'>{rate.numerator} of your {rate.denominator} audited exams met every "
            f"criterion ({_e(pct(rate.rate))}).</p>"
        )
        parts.append(f"<p>95 % confidence interval (Wilson): {_e(ci_text(rate))}")
        if s.goal_pct is not None:
            parts.append(f" · the team's goal is {s.goal_pct:g} %")
        parts.append(
            ". With a few exams a week the rate moves a lot by chance: look at the trend "
            "over several weeks rather than at one week.</p>"
        )
        if chart_src:
            parts.append(f"<p><img src='{_e(chart_src)}' width='{IMAGE_WIDTH}'></p>")
        parts.append(
            _table(
                ["Week (Sunday)", "Met all criteria", "Audited", "Rate"],
                [_week_cells(w)[:4] for w in measures.weekly(mine)],
            )
        )

        counts = _criterion_counts(data, mine)
        strong = sorted(counts, key=lambda t: (-(t[1] / (t[1] + t[2])), -t[1]))
        strong = [t for t in strong if t[1] > 0][:4]
        to_try = sorted(
            (t for t in counts if t[2] > 0), key=lambda t: (-t[2] / (t[1] + t[2]), -t[2])
        )
        parts.append("<h2>What went well</h2>")
        if strong:
            parts.append(
                "<ul>"
                + "".join(
                    f"<li>{_e(data.criterion_label(cid))}: met on {p} of {p + f} exams</li>"
                    for cid, p, f in strong
                )
                + "</ul>"
            )
        else:
            parts.append("<p>Not enough scored criteria yet to say.</p>")
        parts.append("<h2>One thing to try next</h2>")
        if to_try:
            cid, p, f = to_try[0]
            parts.append(
                f"<p><b>{_e(data.criterion_label(cid))}</b> was not met on {f} of {p + f} exams. "
                "Pick this one criterion to focus on for the next few weeks; a quick look at the "
                "positioning guide or a tip from a colleague or your coach before the next "
                "exam is often all it takes.</p>"
            )
            if len(to_try) > 1:
                parts.append(
                    "<p>Also worth a look later: "
                    + ", ".join(_e(data.criterion_label(t[0])) for t in to_try[1:3])
                    + ".</p>"
                )
        else:
            parts.append(
                "<p>Every scored criterion was met. Keep doing what you are doing, and consider "
                "sharing your tips with the team.</p>"
            )

        examples = sorted(
            (r for r in mine if r.learning_opportunity or r.meets is False),
            key=lambda r: (not r.learning_opportunity, r.procedure_date),
        )[:FEEDBACK_EXAMPLES]
        parts.append("<h2>Learning opportunities</h2>")
        if examples:
            parts.append(
                "<p>Exams worth opening together with your team leader or coach (find them in "
                "AuditDesk by their exam key):</p>"
            )
            parts.append(
                _table(
                    ["Exam key", "Procedure date", "Criteria to revisit"],
                    [
                        [
                            data.exam_key(r),
                            f"{r.procedure_date:%Y-%m-%d}",
                            ", ".join(
                                data.criterion_label(cid)
                                for cid, v in r.criteria.items()
                                if v == "fail"
                            )
                            or "flagged as a learning example",
                        ]
                        for r in examples
                    ],
                    numeric_from=99,
                )
            )
        else:
            parts.append("<p>No exam of yours was flagged in this period.</p>")
    parts.append(
        "<p class='note'>Exams are named by pseudonymous keys; this report holds no patient "
        f"data. Generated {dt.datetime.now():%Y-%m-%d %H:%M} by AuditDesk.</p>"
    )
    parts.append("</body></html>")
    return "".join(parts)


def feedback_html(
    session_or_db: Session | Database,
    technologist: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    chart_src: str | None = CHART_SRC,
) -> str:
    """The feedback report's HTML for one technologist (canonical name)."""
    with _session(session_or_db) as session:
        a, b = (start, end) if (start or end) else default_range()
        data = load_qi_data(session, start=a, end=b)
    return build_feedback_html(data, technologist, chart_src)


def write_technologist_feedback(
    session_or_db: Session | Database,
    path: str | Path,
    technologist: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> None:
    """Write one technologist's feedback PDF (their results only, no other names)."""
    with _session(session_or_db) as session:
        a, b = (start, end) if (start or end) else default_range()
        data = load_qi_data(session, start=a, end=b)
    mine = [r for r in data.results if r.technologist == technologist]
    image = _chart_image(measures.weekly(mine), "Your weekly % meeting every criterion", None, [])
    html_text = build_feedback_html(data, technologist, CHART_SRC if image is not None else None)
    print_html(html_text, path, {CHART_SRC: image} if image is not None else None)


def technologists_in(data: QIData) -> list[str]:
    """Technologists with counted exams in the data, sorted (for the feedback picker)."""
    return sorted({r.technologist for r in data.results if r.technologist})


__all__ = [
    "QIData",
    "build_feedback_html",
    "build_weekly_html",
    "default_range",
    "feedback_html",
    "load_qi_data",
    "print_html",
    "technologists_in",
    "weekly_report_html",
    "write_technologist_feedback",
    "write_weekly_report",
]
