"""The reviewer agreement report (PDF) and the formatting shared with the agreement window.

Every number comes from ``auditdesk.review.agreement`` (``agreement_report``, ``pairwise_matrix``):
this module only lays them out, so the window, the CSV and the PDF cannot disagree. The HTML
builder is public so tests can check the text (the PDF is compressed).

How to read the numbers is part of the report: percent agreement with its Wilson interval, a
chance-corrected coefficient (Cohen's κ, or weighted κ for ordinal items) with its interval and
the Landis–Koch word beside it in small print (a description, not a verdict), Gwet's AC1/AC2,
which stays stable when almost every exam passes, Krippendorff's α (missing ratings allowed) and
the ICC for measurements. The prevalence of each answer is shown so that "92 % agreement but
κ 0.2" explains itself, with one sentence where that happens.

Privacy: exams appear only as counts; the report names reviewers (staff), never patients, and
carries no IDs, accession numbers or UIDs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.qi import site
from auditdesk.review import agreement
from auditdesk.store.db import Database
from auditdesk.store.models import Reviewer
from auditdesk.ui.qi.reports import (
    STYLE,
    _demo_banner,
    _e,
    _session,
    _site_title,
    html_table,
    print_html,
)

#: percent agreement at or above this, with κ below KAPPA_LOW, gets the "kappa paradox" sentence
HIGH_AGREEMENT = 0.80
KAPPA_LOW = 0.40
MATRIX_TARGET = "score:meets_criteria"

EXTRA_STYLE = """
<style>
small, .lk { color: #666666; font-size: 7pt; }
.ci { color: #555555; font-size: 7pt; }
.explain { color: #6a3d00; font-size: 8pt; }
td.cell { text-align: center; }
</style>
"""


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass
class AgreementData:
    """What the report (and the window's summary) shows for one filter."""

    settings: site.SiteSettings
    flt: agreement.AgreementFilter
    rows: list[agreement.ItemAgreement]
    matrix: dict[tuple[int, int], agreement.Estimate]
    reviewer_names: dict[int, str] = field(default_factory=dict)
    checklist_title: str = ""
    technologist_note: str = ""

    def name(self, reviewer_pk: int) -> str:
        return self.reviewer_names.get(reviewer_pk, f"Reviewer {reviewer_pk}")


def reviewer_names(session: Session) -> dict[int, str]:
    """Every reviewer profile's name by primary key (staff names, not patient data)."""
    return {r.id: r.name for r in session.scalars(select(Reviewer).order_by(Reviewer.name))}


def checklist_title(checklist_id: str) -> str:
    """The installed checklist's title, "" when it is not installed on this computer."""
    from auditdesk.reading.auditing import AuditingError, find_checklist

    try:
        return find_checklist(checklist_id).title
    except AuditingError:
        return ""


def load_agreement_data(session: Session, flt: agreement.AgreementFilter) -> AgreementData:
    """Site settings, the per-target agreement rows and the reviewer matrix for ``flt``."""
    return AgreementData(
        settings=site.get_site(session),
        flt=flt,
        rows=list(agreement.agreement_report(session, flt)),
        matrix=dict(agreement.pairwise_matrix(session, flt, MATRIX_TARGET)),
        reviewer_names=reviewer_names(session),
        checklist_title=checklist_title(flt.checklist_id),
    )


# --------------------------------------------------------------------------------------------
# Formatting (plain text; shared with the window)
# --------------------------------------------------------------------------------------------


def num(value: float | None, digits: int = 2) -> str:
    """A coefficient as "0.41" ("–" when it could not be computed)."""
    if value is None or value != value:  # None or NaN
        return "–"
    return f"{value:.{digits}f}"


def share(value: float | None) -> str:
    """A proportion (0–1) as "92.0 %"."""
    if value is None or value != value:
        return "–"
    return f"{value * 100:.1f} %"


def ci(est: agreement.Estimate | None, *, percent: bool = False) -> str:
    """ "0.12–0.68" (or "54.8–93.0 %"), "–" when there is no interval."""
    if est is None or est.ci_low is None or est.ci_high is None:
        return "–"
    if percent:
        return f"{est.ci_low * 100:.1f}–{est.ci_high * 100:.1f} %"
    return f"{est.ci_low:.2f}–{est.ci_high:.2f}"


def with_ci(est: agreement.Estimate | None, *, percent: bool = False) -> str:
    """ "0.41 (0.12–0.68)": the value and its 95 % interval on one line."""
    if est is None or est.value is None:
        return "–"
    value = share(est.value) if percent else num(est.value)
    interval = ci(est, percent=percent)
    return value if interval == "–" else f"{value} ({interval})"


def main_kappa(row: agreement.ItemAgreement) -> tuple[str, agreement.Estimate | None]:
    """The chance-corrected coefficient to show first: weighted κ for ordinal items, Cohen's κ
    for two reviewers, Fleiss' κ for more; with its name."""
    if row.kind == "ordinal" and row.weighted_kappa is not None:
        return "weighted κ", row.weighted_kappa
    if row.kappa is not None:
        return "Cohen's κ", row.kappa
    if row.fleiss is not None:
        return "Fleiss' κ", row.fleiss
    return "κ", None


def ac_name(row: agreement.ItemAgreement) -> str:
    return "AC2" if row.kind == "ordinal" else "AC1"


def lk_label(est: agreement.Estimate | None) -> str:
    """The Landis–Koch word for a κ ("" when there is no value): a description only."""
    if est is None or est.value is None:
        return ""
    return agreement.landis_koch(est.value)


def answer_text(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "meets" if value else "does not meet"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def prevalence_text(prevalence: dict[Any, float]) -> str:
    """ "pass 95 % · fail 5 %", most frequent answer first."""
    if not prevalence:
        return "–"
    ordered = sorted(prevalence.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return " · ".join(f"{answer_text(k)} {v * 100:.0f} %" for k, v in ordered)


def paradox_sentence(row: agreement.ItemAgreement) -> str:
    """One sentence when agreement is high but κ is low (the "kappa paradox"), else ""."""
    _name, kappa = main_kappa(row)
    p = row.percent.value if row.percent is not None else None
    if p is None or kappa is None or kappa.value is None:
        return ""
    if p < HIGH_AGREEMENT or kappa.value >= KAPPA_LOW:
        return ""
    top = ""
    if row.prevalence:
        answer, frac = max(row.prevalence.items(), key=lambda kv: kv[1])
        top = f" because “{answer_text(answer)}” makes up {frac * 100:.0f} % of all answers"
    ac = row.ac1.value if row.ac1 is not None else None
    tail = f"; {ac_name(row)} ({num(ac)}) is less affected by this" if ac is not None else ""
    return (
        f"Reviewers agree on {share(p)} of exams but κ is only {num(kappa.value)}{top}: when "
        f"one answer dominates, chance agreement is already high and κ discounts it{tail}."
    )


def is_measurement(row: agreement.ItemAgreement) -> bool:
    return row.kind == "interval"


def target_title(row: agreement.ItemAgreement) -> str:
    """ "RMLO: IMF open" style title from the row's label and target."""
    if row.target == "overall":
        return row.label or "Overall (all pass/fail answers)"
    return row.label or row.target


def period_text(flt: agreement.AgreementFilter) -> str:
    if flt.start and flt.end:
        return f"{flt.start:%Y-%m-%d} to {flt.end:%Y-%m-%d}"
    if flt.start:
        return f"from {flt.start:%Y-%m-%d}"
    if flt.end:
        return f"up to {flt.end:%Y-%m-%d}"
    return "all dates"


def reviewer_pks_in(matrix: dict[tuple[int, int], agreement.Estimate]) -> list[int]:
    return sorted({pk for pair in matrix for pk in pair})


def matrix_estimate(
    matrix: dict[tuple[int, int], agreement.Estimate], a: int, b: int
) -> agreement.Estimate | None:
    return matrix.get((a, b)) or matrix.get((b, a))


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


def _cell_html(est: agreement.Estimate | None, *, percent: bool = False, lk: bool = False) -> str:
    if est is None or est.value is None:
        return "–"
    value = share(est.value) if percent else num(est.value)
    out = f"<b>{_e(value)}</b>"
    if lk and lk_label(est):
        out += f" <span class='lk'>{_e(lk_label(est))}</span>"
    interval = ci(est, percent=percent)
    if interval != "–":
        out += f"<br><span class='ci'>{_e(interval)}</span>"
    return out


def section_of(row: agreement.ItemAgreement) -> str:
    """ "summary" (overall, derived scores), "item" (one item over its views), "key" (one
    answer key), "measure"."""
    if is_measurement(row):
        return "measure"
    if row.target == "overall" or row.target.startswith("score:"):
        return "summary"
    return "key" if ":" in row.target else "item"


def _categorical_row(row: agreement.ItemAgreement) -> list[str]:
    name, kappa = main_kappa(row)
    title = _e(target_title(row))
    kappa_cell = _cell_html(kappa, lk=True)
    if kappa is not None and kappa.value is not None and name != "Cohen's κ":
        kappa_cell += f"<br><span class='ci'>{_e(name)}</span>"
    return [
        title,
        str(row.n_subjects),
        str(row.n_raters),
        _cell_html(row.percent, percent=True),
        kappa_cell,
        _cell_html(row.ac1)
        + (
            f" <span class='ci'>{ac_name(row)}</span>"
            if row.ac1 and row.ac1.value is not None
            else ""
        ),
        _cell_html(row.alpha),
        _e(prevalence_text(row.prevalence)),
    ]


def _measurement_row(row: agreement.ItemAgreement) -> list[str]:
    return [
        _e(target_title(row)),
        str(row.n_subjects),
        str(row.n_raters),
        _cell_html(row.icc),
        _cell_html(row.alpha),
    ]


def _matrix_html(data: AgreementData) -> str:
    pks = reviewer_pks_in(data.matrix)
    if len(pks) < 2:
        return "<p>Fewer than two reviewers read the same exams in this selection.</p>"
    headers = ["", *(data.name(pk) for pk in pks)]
    rows = []
    for a in pks:
        cells = [f"<b>{_e(data.name(a))}</b>"]
        for b in pks:
            if a == b:
                cells.append("—")
                continue
            est = matrix_estimate(data.matrix, a, b)
            if est is None or est.value is None:
                cells.append(
                    "–" if est is None else f"– <span class='ci'>n {est.n_subjects}</span>"
                )
            else:
                cells.append(
                    f"<b>{_e(num(est.value))}</b> <span class='lk'>{_e(lk_label(est))}</span>"
                    f"<br><span class='ci'>{_e(ci(est))} · n {est.n_subjects}</span>"
                )
        rows.append(cells)
    return html_table(headers, rows)


def build_agreement_html(data: AgreementData) -> str:
    """The agreement report from gathered data (no database access)."""
    s = data.settings
    flt = data.flt
    parts = [f"<html><head>{STYLE}{EXTRA_STYLE}</head><body>"]
    parts.append(f"<h1>Reviewer agreement — {_e(_site_title(s))}</h1>")
    sub = []
    if s.organisation:
        sub.append(_e(s.organisation))
    sub.append(f"Period: {_e(period_text(flt))} (by procedure date)")
    title = f" — {data.checklist_title}" if data.checklist_title else ""
    sub.append(f"Checklist: {_e(flt.checklist_id)}{_e(title)}")
    if flt.reviewer_pks:
        sub.append("Reviewers: " + _e(", ".join(data.name(pk) for pk in flt.reviewer_pks)))
    if flt.technologist:
        sub.append(f"Technologist: {_e(flt.technologist)}")
    parts.append(f"<p class='sub'>{'<br>'.join(sub)}</p>")
    parts.append(_demo_banner(s))

    categorical = [r for r in data.rows if not is_measurement(r)]
    measured = [r for r in data.rows if is_measurement(r)]
    headline = next((r for r in data.rows if r.target == MATRIX_TARGET), None)
    parts.append("<h2>Summary</h2>")
    if not data.rows or all(r.n_subjects == 0 for r in data.rows):
        parts.append(
            "<p>No exam in this selection was read by two or more reviewers with complete "
            "audits, so there is no agreement to report.</p>"
        )
    elif headline is not None:
        name, kappa = main_kappa(headline)
        parts.append(
            f"<p class='big'>Meets all criteria: reviewers agree on "
            f"{_e(share(headline.percent.value))} of {headline.n_subjects} exams read twice or "
            f"more · {_e(name)} {_e(num(kappa.value if kappa else None))}</p>"
        )

    headers = [
        "Item",
        "Exams",
        "Raters",
        "% agreement (95 % CI)",
        "κ (95 % CI)",
        "Gwet AC (95 % CI)",
        "Krippendorff α (95 % CI)",
        "Prevalence of answers",
    ]
    widths = [27, 6, 6, 13, 13, 12, 11, 12]
    for section, title in (
        ("summary", "Overall and per exam"),
        ("item", "Per item, all views pooled"),
        ("key", "Per item and view"),
    ):
        rows = [r for r in categorical if section_of(r) == section]
        if rows:
            parts.append(f"<h2>{_e(title)}</h2>")
            parts.append(html_table(headers, [_categorical_row(r) for r in rows], 1, widths))
    if not categorical:
        parts.append(html_table(headers, [], 1, widths))
    sentences = [(r, paradox_sentence(r)) for r in categorical]
    sentences = [(r, text) for r, text in sentences if text]
    if sentences:
        parts.append("<p class='explain'><b>High agreement, low κ.</b></p><ul>")
        parts += [
            f"<li class='explain'>{_e(target_title(r))}: {_e(text)}</li>" for r, text in sentences
        ]
        parts.append("</ul>")

    parts.append("<h2>Measurements</h2>")
    measured = [r for r in measured if r.n_subjects > 0]
    if measured:
        parts.append(
            html_table(
                ["Measurement", "Exams", "Raters", "ICC(2,1) (95 % CI)", "Krippendorff α"],
                [_measurement_row(r) for r in measured],
                1,
                [40, 10, 10, 20, 20],
            )
        )
    else:
        parts.append("<p>No measurement was taken by two or more reviewers on the same exam.</p>")

    parts.append("<h2>Reviewer against reviewer — meets all criteria (Cohen's κ)</h2>")
    parts.append(_matrix_html(data))

    parts.append(
        "<p class='note'>Only complete review audits count (consensus and reference audits are "
        "not ratings). Percent agreement: share of agreeing reviewer pairs, Wilson 95 % interval. "
        "κ: Cohen's kappa for two reviewers (quadratic-weighted for ordinal items), Fleiss' for "
        "more, with asymptotic 95 % intervals. Gwet's AC1 (AC2 weighted) is robust when one answer "
        "dominates. Weighted κ and AC1/AC2 use every rating the item defines (its full scale), "
        "used or not; N/A counts as a category only where it was given. Krippendorff's α "
        "allows missing ratings; its interval is a bootstrap over "
        "exams. ICC(2,1): two-way random, absolute agreement, single reviewer. The words beside "
        "κ (Landis &amp; Koch 1977: slight, fair, moderate, substantial, almost perfect) describe "
        "the number only; read the interval, which is wide with few exams. This report holds no "
        f"patient data. Generated {dt.datetime.now():%Y-%m-%d %H:%M} by AuditDesk.</p>"
    )
    parts.append("</body></html>")
    return "".join(parts)


def agreement_html(session: Session, flt: agreement.AgreementFilter) -> str:
    """The agreement report's HTML for ``flt`` (public so its text can be checked)."""
    return build_agreement_html(load_agreement_data(session, flt))


def write_agreement_pdf(
    db_or_session: Session | Database, path: str | Path, flt: agreement.AgreementFilter
) -> None:
    """Write the agreement report for ``flt`` as an A4 PDF at ``path``."""
    with _session(db_or_session) as session:
        text = agreement_html(session, flt)
    print_html(text, path)


__all__ = [
    "AgreementData",
    "agreement_html",
    "build_agreement_html",
    "load_agreement_data",
    "paradox_sentence",
    "write_agreement_pdf",
]
