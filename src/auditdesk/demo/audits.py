"""Demo audits: turn the indexed ``auditdesk demo`` studies into an audit history worth charting.

Why it exists: a team leader trying the app should see what weeks of real use look like — site
settings, technologists whose header spellings are already mapped, a weekly sample, completed
positioning audits, double reads that disagree a little, learning-opportunity flags and PDSA
annotations — without auditing 30 exams by hand first.

Why it is shaped like this:

* **Answers follow the generator's ground truth.** Each mammogram's manifest ``truth`` says
  where the pectoral muscle stops, whether the IMF and the nipples are shown and how long each
  PNL is, so a "poor" study fails the items a careful reviewer would fail, and the PNL
  measurements are the true lengths (plus a reviewer's millimetre or two).
* **A gentle improvement.** Independent "slips" (a skin fold, soft compression) become rarer
  week by week and drop after the PDSA cycle that starts a new phase, so the charts show a
  shift there.
* **One transaction per audit.** The store functions are called directly (``AuditSession``
  commits every answer, which would take a minute); every change still writes its history
  event, and the score is computed once by ``auditing.save_computed_score``.
* **Idempotent.** Everything is looked up before it is added: running it twice adds nothing.
* **Deterministic.** All choices come from ``numpy.random.default_rng(seed)`` streams.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auditdesk.demo.generator import GeneratedStudy, Manifest
from auditdesk.qi import site as site_mod
from auditdesk.reading.auditing import AuditingError, find_checklist, save_computed_score
from auditdesk.reading.auditing import snapshot_checklist as _snapshot
from auditdesk.reading.weeks import week_start
from auditdesk.store import audits as store
from auditdesk.store.audit_bulk import set_answers
from auditdesk.store.db import Database
from auditdesk.store.models import (
    Audit,
    AuditAnswer,
    AuditEvent,
    AuditMeasurement,
    AuditScore,
    Reviewer,
    Study,
    utcnow,
)

CHECKLIST_ID = "acr-mammo-positioning"
DEFAULT_SEED = 20261115
DOUBLE_READ_SHARE = 0.2
#: Audited weeks kept complete; newer weeks beyond these stay open for the user to audit.
MIN_COMPLETE_WEEKS = 10

DEMO_SITE = site_mod.SiteSettings(
    site_name="AuditDesk Demo Site",
    site_id="DEMO01",
    organisation="AuditDesk (synthetic demo data)",
    collaborative="ACR Learning Network — Mammography Positioning (demo)",
    goal_pct=85.0,
    checklist_id=CHECKLIST_ID,
    default_location="Main Campus",
    is_demo=True,
)
DEMO_LOCATIONS = ("Main Campus", "Breast Center North")
#: (name, role, initials): two technologist reviewers and a team leader.
DEMO_REVIEWERS = (
    ("Riley Chen", "technologist", "RC"),
    ("Morgan Patel", "technologist", "MP"),
    ("Dana Brooks", "team_leader", "DB"),
)
#: Canonical technologists with the Operators' Name spellings the generator writes
#: (``generator.DEFAULT_TECHNOLOGISTS``; the blank one cannot be mapped and stays blank).
DEMO_TECHNOLOGISTS = (
    ("Jane Smith", "JS", "Main Campus", ("SMITH^JANE", "J.S.")),
    ("Alex Doe", "AD", "Breast Center North", ("DOE^ALEX", "DOE^A")),
    ("Sam Nguyen", "SN", "Main Campus", ("NGUYEN^SAM",)),
)

VIEWS = ("RCC", "LCC", "RMLO", "LMLO")
EACH_VIEW_ITEMS = (
    "nipple_profile",
    "no_skin_folds",
    "no_motion",
    "compression",
    "exposure",
    "no_artefacts",
    "labelling",
    "symmetry",
)
MLO_ITEMS = ("pectoral_shape", "imf_open", "posterior_tissue")
CC_ITEMS = ("medial_tissue", "lateral_tissue", "retroglandular_fat", "nipple_midline")
#: Items two careful reviewers may judge differently (flipped in a second read).
SUBJECTIVE = {
    "pectoral_shape",
    "imf_open",
    "posterior_tissue",
    "medial_tissue",
    "lateral_tissue",
    "retroglandular_fat",
    "nipple_profile",
    "no_skin_folds",
    "compression",
}
#: Slips independent of the generated anatomy: (item, scope, reason code), most common first.
SLIPS = (
    ("no_skin_folds", "MLO", "axillary"),
    ("no_skin_folds", "MLO", "imf"),
    ("compression", "ANY", None),
    ("posterior_tissue", "MLO", None),
    ("lateral_tissue", "CC", None),
    ("no_motion", "ANY", None),
)
COMMENTS = {
    "RMLO:pectoral_to_pnl": "Pectoral muscle stops short of the PNL on the RMLO; bring the "
    "breast up and out and include more axillary tissue.",
    "LMLO:pectoral_to_pnl": "Pectoral muscle stops short of the PNL on the LMLO; bring the "
    "breast up and out and include more axillary tissue.",
    "RMLO:imf_open": "Right IMF not shown — lift the breast and open the fold.",
    "LMLO:imf_open": "Left IMF not shown — lift the breast and open the fold.",
    "RCC:pnl_match": "RCC PNL much shorter than on the MLO: posterior tissue missed.",
    "LCC:pnl_match": "LCC PNL much shorter than on the MLO: posterior tissue missed.",
    "RMLO:pnl_match": "RMLO PNL much shorter than on the CC: posterior tissue missed.",
    "LMLO:pnl_match": "LMLO PNL much shorter than on the CC: posterior tissue missed.",
    "nipple": "Nipple not in profile; re-check the rotation before exposing.",
    "slip": "Small positioning slip; otherwise a well positioned exam.",
}
ANNOTATIONS = (
    # (weeks after the first week, label, description, pdsa cycle, starts phase)
    (
        3,
        "Positioning huddle",
        "Team huddle on pectoral muscle and IMF; feedback sheets shared with technologists.",
        "PDSA 1",
        False,
    ),
    (
        6,
        "Up-and-out coaching",
        "One-to-one coaching on the MLO lift and skin-fold checks; new phase of the chart.",
        "PDSA 2",
        True,
    ),
)


class DemoAuditError(RuntimeError):
    """The demo audits cannot be made (no manifest, no indexed demo studies)."""


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------


def fill_demo_audits(
    db: Database,
    *,
    seed: int = DEFAULT_SEED,
    manifest: Manifest | Path | str | None = None,
    open_weeks: int | None = None,
) -> dict[str, Any]:
    """Fill the database with a demo site, technologists, weekly samples and audits.

    ``manifest`` is the demo's ``Manifest`` or its folder/file (default: the demo folder).
    ``open_weeks`` newest weeks are sampled but left unaudited, for the user (default: 1 when
    more than :data:`MIN_COMPLETE_WEEKS` weeks have mammograms, else 0). Returns counts; a second
    run creates nothing new (``audits_created`` 0).
    """
    started = time.perf_counter()
    if manifest is None:
        from auditdesk.paths import demo_dir

        manifest = demo_dir()
    if not isinstance(manifest, Manifest):
        try:
            manifest = Manifest.read(manifest)
        except (OSError, ValueError, KeyError) as exc:
            raise DemoAuditError(f"The demo manifest could not be read: {exc}") from exc
    truth_by_uid = {s.study_uid: s for s in manifest.studies if s.kind == "mammo"}
    checklist = find_checklist(CHECKLIST_ID)
    counts: dict[str, Any] = defaultdict(int)

    with db.transaction() as session:
        by_uid = {
            uid: pk
            for uid, pk in session.execute(
                select(Study.study_uid, Study.id).where(Study.study_uid.in_(list(truth_by_uid)))
            )
        }
        if not by_uid:
            raise DemoAuditError("No demo mammograms are indexed; run 'auditdesk demo' first.")
        counts["site"] = _fill_site(session)
        counts["technologists"], counts["aliases"] = _fill_technologists(session)
        reviewers = _fill_reviewers(session)
        counts["reviewers"] = len(reviewers)
        version_pk = _snapshot(session, checklist).id

    studies_by_week: dict[dt.date, list[GeneratedStudy]] = defaultdict(list)
    for uid in by_uid:
        generated = truth_by_uid[uid]
        studies_by_week[week_start(generated.procedure_date)].append(generated)
    weeks = sorted(studies_by_week)
    if open_weeks is None:
        open_weeks = 1 if len(weeks) > MIN_COMPLETE_WEEKS else 0
    audited_weeks = weeks[: len(weeks) - open_weeks] if open_weeks else weeks
    phase_index = _phase_week(len(weeks))

    assignments = _fill_samples(db, weeks, reviewers, seed)
    counts["samples"] = sum(bool(items) for items in assignments.values())
    for week in weeks:  # a week's sample decides what is audited (all of it when none)
        if assignments.get(week):
            keep = assignments[week]
            studies_by_week[week] = [
                g for g in studies_by_week[week] if by_uid[g.study_uid] in keep
            ]
    by_uid = {g.study_uid: by_uid[g.study_uid] for week in weeks for g in studies_by_week[week]}

    rng = np.random.default_rng([seed, 5])
    doubles = _double_reads(assignments, audited_weeks, reviewers, by_uid, truth_by_uid, rng)
    flags_left = 3
    for week_index, week in enumerate(weeks):
        if week not in audited_weeks:
            continue
        slip_p = _slip_probability(week_index, phase_index)
        for generated in sorted(studies_by_week[week], key=lambda g: (g.procedure_date, g.index)):
            study_pk = by_uid[generated.study_uid]
            primary, second = assignments.get(week, {}).get(study_pk, (None, None))
            if primary is None:
                primary = reviewers[generated.index % 2]
            second = doubles.get(study_pk, second)
            exam_rng = np.random.default_rng([seed, 7, generated.index])
            base = _exam_answers(generated.truth, exam_rng, slip_p)
            when = _audit_time(generated.procedure_date, exam_rng)
            flag = False
            if flags_left and _fails(base) and generated.truth.get("quality") != "good":
                flag = bool(exam_rng.random() < 0.5)
                flags_left -= int(flag)
            made = _make_audit(
                db,
                study_pk,
                primary,
                version_pk,
                base,
                generated,
                exam_rng,
                when,
                flip_share=0.0,
                flag=flag,
            )
            counts["audits_created"] += int(made)
            if second is not None and second != primary:
                made = _make_audit(
                    db,
                    study_pk,
                    second,
                    version_pk,
                    base,
                    generated,
                    exam_rng,
                    when + dt.timedelta(days=1, hours=2),
                    flip_share=float(exam_rng.uniform(0.05, 0.15)),
                    flag=False,
                )
                counts["audits_created"] += int(made)

    with db.transaction() as session:
        counts["annotations"] = _fill_annotations(session, weeks)
        stats = _summary(session, list(by_uid.values()))
    counts.update(stats)
    counts["weeks"] = len(weeks)
    counts["weeks_audited"] = len(audited_weeks)
    counts["seconds"] = round(time.perf_counter() - started, 2)
    return dict(counts)


# --------------------------------------------------------------------------------------------
# site, people, samples, annotations
# --------------------------------------------------------------------------------------------


def _fill_site(session: Session) -> str:
    """Demo settings, unless a real site was already set up (its settings are kept)."""
    current = site_mod.get_site(session)
    if current.site_name and not current.is_demo:
        return "kept"
    if current == DEMO_SITE:
        return "unchanged"
    for name in DEMO_LOCATIONS:
        site_mod.add_location(session, name)
    site_mod.save_site(session, DEMO_SITE)
    return "saved"


def _fill_technologists(session: Session) -> tuple[int, int]:
    """The demo technologists and their header spellings; returns (technologists, aliases)."""
    for name in DEMO_LOCATIONS:
        site_mod.add_location(session, name)
    for name, initials, location, aliases in DEMO_TECHNOLOGISTS:
        tech = site_mod.find_technologist(session, name)
        if tech is None:
            tech = site_mod.add_technologist(session, name, initials, location)
        resolve = site_mod.technologist_resolver(session)
        for raw in aliases:
            key = site_mod.normalise_operator(raw)
            if key is None or key in tech.aliases:
                continue
            if resolve(raw) not in (raw.strip(), tech.name):
                continue  # the site mapped this spelling to someone else: keep theirs
            site_mod.add_alias(session, tech.id, raw)
    names = {name for name, *_ in DEMO_TECHNOLOGISTS}
    techs = [t for t in site_mod.list_technologists(session) if t.name in names]
    return len(techs), sum(len(t.aliases) for t in techs)


def _fill_reviewers(session: Session) -> list[int]:
    """The demo reviewers' ids (existing profiles of the same name are reused)."""
    out = []
    for name, role, initials in DEMO_REVIEWERS:
        row = store.get_reviewer_by_name(session, name)
        if row is None:
            row = store.create_reviewer(session, name, role, initials)
        out.append(row.id)
    return out


def _fill_samples(
    db: Database, weeks: list[dt.date], reviewers: list[int], seed: int
) -> dict[dt.date, dict[int, tuple[int | None, int | None]]]:
    """A stored sample per week (drawn once, reused after): week -> study -> (primary, second)."""
    from auditdesk.qi import sampling

    out: dict[dt.date, dict[int, tuple[int | None, int | None]]] = {}
    for i, week in enumerate(weeks):
        with db.transaction() as session:
            items = sampling.week_sample(session, week)
            if not items:
                plan = sampling.SamplePlan(
                    week_start=week,
                    mode="per_technologist",
                    n=3,
                    seed=(seed % 100_000) * 100 + i,
                    second_share=DOUBLE_READ_SHARE,
                    screening_only=True,
                    reviewer_pks=list(reviewers),
                )
                try:
                    _seed, items = sampling.draw_sample(session, plan, created_by=reviewers[-1])
                except sampling.SamplingError:
                    items = []
        out[week] = {
            item.study_pk: (item.primary_reviewer_pk, item.second_reviewer_pk) for item in items
        }
    return out


def _double_reads(
    assignments: dict[dt.date, dict[int, tuple[int | None, int | None]]],
    audited_weeks: list[dt.date],
    reviewers: list[int],
    by_uid: dict[str, int],
    truth_by_uid: dict[str, GeneratedStudy],
    rng: np.random.Generator,
) -> dict[int, int]:
    """Second readers: the sample's, topped up to about 20 % of the audited exams."""
    audited = {w for w in audited_weeks}
    pool = [
        (pk, truth_by_uid[uid])
        for uid, pk in by_uid.items()
        if week_start(truth_by_uid[uid].procedure_date) in audited
    ]
    pool.sort(key=lambda item: item[1].index)
    chosen: dict[int, int] = {}
    primaries: dict[int, int | None] = {}
    for week in audited_weeks:
        for study_pk, (primary, second) in assignments.get(week, {}).items():
            primaries[study_pk] = primary
            if second is not None and second != primary:
                chosen[study_pk] = second
    target = round(DOUBLE_READ_SHARE * len(pool))
    candidates = [pk for pk, _ in pool if pk not in chosen]
    rng.shuffle(candidates)
    for study_pk in candidates[: max(0, target - len(chosen))]:
        generated = next(g for pk, g in pool if pk == study_pk)
        primary = primaries.get(study_pk) or reviewers[generated.index % 2]
        others = [r for r in reviewers if r != primary]
        chosen[study_pk] = others[int(rng.integers(0, len(others)))]
    return chosen


def _phase_week(n_weeks: int) -> int:
    """Index of the week the phase-starting PDSA annotation falls in."""
    return min(ANNOTATIONS[1][0], max(n_weeks - 2, 0))


def _fill_annotations(session: Session, weeks: list[dt.date]) -> int:
    if not weeks:
        return 0
    existing = {(a.label, a.pdsa_cycle) for a in site_mod.list_annotations(session)}
    for offset, label, description, cycle, starts in ANNOTATIONS:
        index = _phase_week(len(weeks)) if starts else min(offset, max(len(weeks) - 3, 0))
        when = weeks[index] + dt.timedelta(days=2)  # a Tuesday
        if (label, cycle) not in existing:
            site_mod.add_annotation(session, when, label, description, cycle, starts)
    return sum(
        (label, cycle) in {(a.label, a.pdsa_cycle) for a in site_mod.list_annotations(session)}
        for _o, label, _d, cycle, _s in ANNOTATIONS
    )


# --------------------------------------------------------------------------------------------
# answers from ground truth
# --------------------------------------------------------------------------------------------


def _slip_probability(week_index: int, phase_index: int) -> float:
    """Chance of an independent positioning slip: falls slowly, then drops with the new phase."""
    if week_index < phase_index:
        return max(0.45 - 0.025 * week_index, 0.25)
    return max(0.16 - 0.012 * (week_index - phase_index), 0.06)


Answers = dict[str, tuple[str, str | None]]


def _exam_answers(truth: dict[str, Any], rng: np.random.Generator, slip_p: float) -> Answers:
    """Pass/fail answers (with reason codes) a careful reviewer would give this exam."""
    views = truth.get("views", {})
    breasts = truth.get("breasts", {})
    answers: Answers = {}
    for view in VIEWS:
        vt = views.get(view, {})
        for item in EACH_VIEW_ITEMS:
            answers[f"{view}:{item}"] = ("pass", None)
        if vt.get("nipple_in_profile") is False:
            answers[f"{view}:nipple_profile"] = ("fail", None)
        side = breasts.get(view[0], {})
        if view.endswith("MLO"):
            for item in MLO_ITEMS:
                answers[f"{view}:{item}"] = ("pass", None)
            if vt.get("imf_visible") is False:
                sagging = truth.get("quality") == "multiple"
                answers[f"{view}:imf_open"] = ("fail", "sagging" if sagging else "not_shown")
            if float(side.get("pectoral_to_pnl_mm", 0.0)) > 10.0 and rng.random() < 0.6:
                answers[f"{view}:pectoral_shape"] = ("fail", "narrow")
        else:
            for item in CC_ITEMS:
                answers[f"{view}:{item}"] = ("pass", None)
            if side.get("cc_within_10mm_of_mlo") is False and rng.random() < 0.5:
                answers[f"{view}:retroglandular_fat"] = ("fail", None)
    if rng.random() < slip_p:
        item, scope, reason = SLIPS[int(rng.integers(0, len(SLIPS)))]
        choices = [v for v in VIEWS if scope == "ANY" or v.endswith(scope)]
        view = choices[int(rng.integers(0, len(choices)))]
        answers[f"{view}:{item}"] = ("fail", reason)
        answers["_slip"] = ("fail", None)
    return answers


def _measurements(
    truth: dict[str, Any], rng: np.random.Generator
) -> dict[str, tuple[float, str | None]]:
    """PNL lengths and pectoral-to-PNL distances as a reviewer measures them (truth ± ~1.5 mm)."""
    out: dict[str, tuple[float, str | None]] = {}
    for view in VIEWS:
        vt = truth.get("views", {}).get(view)
        if not vt or vt.get("pnl_mm") is None:
            continue
        sop = vt.get("sop_uid")
        out[f"{view}:pnl_mm"] = (max(float(vt["pnl_mm"]) + float(rng.normal(0, 1.5)), 1.0), sop)
        if view.endswith("MLO") and vt.get("pectoral_to_pnl_mm") is not None:
            gap = float(vt["pectoral_to_pnl_mm"])
            gap = max(gap + float(rng.normal(0, 1.0)), 0.0) if gap > 0 else 0.0
            out[f"{view}:pectoral_to_pnl_mm"] = (gap, sop)
    return out


def _fails(answers: Answers) -> list[str]:
    return [k for k, (v, _r) in answers.items() if v == "fail" and not k.startswith("_")]


def _second_read(base: Answers, rng: np.random.Generator, share: float) -> Answers:
    """Another reviewer's answers: the same exam, a few subjective items judged differently."""
    answers = dict(base)
    keys = sorted(k for k in base if k.partition(":")[2] in SUBJECTIVE)
    flips = [k for k in keys if rng.random() < share] or [keys[int(rng.integers(0, len(keys)))]]
    for key in flips:
        value, _reason = answers[key]
        answers[key] = ("pass", None) if value == "fail" else ("fail", None)
    return answers


def _comment(answers: Answers, measured: dict[str, tuple[float, str | None]]) -> str | None:
    for view in ("RMLO", "LMLO"):
        gap = measured.get(f"{view}:pectoral_to_pnl_mm")
        if gap is not None and gap[0] > 10.0:
            return COMMENTS[f"{view}:pectoral_to_pnl"]
    for key in ("RMLO:imf_open", "LMLO:imf_open"):
        if answers.get(key, ("pass",))[0] == "fail":
            return COMMENTS[key]
    for side in ("R", "L"):
        cc, mlo = measured.get(f"{side}CC:pnl_mm"), measured.get(f"{side}MLO:pnl_mm")
        if cc and mlo and abs(cc[0] - mlo[0]) > 10.0:  # the shorter view missed tissue
            return COMMENTS[f"{side}{'CC' if cc[0] < mlo[0] else 'MLO'}:pnl_match"]
    if any(k.endswith("nipple_profile") and v == "fail" for k, (v, _r) in answers.items()):
        return COMMENTS["nipple"]
    if "_slip" in answers:
        return COMMENTS["slip"]
    return None


def _audit_time(procedure_date: dt.date, rng: np.random.Generator) -> dt.datetime:
    """Audited 1-5 days after the exam, in working hours; never in the future."""
    when = dt.datetime.combine(procedure_date, dt.time(9, 0)) + dt.timedelta(
        days=int(rng.integers(1, 6)), minutes=int(rng.integers(0, 8 * 60))
    )
    return min(when, utcnow() - dt.timedelta(minutes=5))


def _make_audit(
    db: Database,
    study_pk: int,
    reviewer_pk: int,
    version_pk: int,
    base: Answers,
    generated: GeneratedStudy,
    rng: np.random.Generator,
    when: dt.datetime,
    *,
    flip_share: float,
    flag: bool,
) -> bool:
    """One complete audit in one transaction; False when the reviewer's audit is already done."""
    when = min(when, utcnow() - dt.timedelta(minutes=1))
    with db.transaction() as session:
        existing = session.scalars(
            select(Audit).where(
                Audit.study_pk == study_pk,
                Audit.reviewer_pk == reviewer_pk,
                Audit.checklist_id == CHECKLIST_ID,
            )
        ).first()
        if existing is not None and existing.status == "complete":
            return False
        audit = store.open_audit(session, study_pk, reviewer_pk, version_pk)
        # Strong references: the identity map is weak, and the store looks both up per change.
        keep = (audit, session.get(Reviewer, reviewer_pk), session.get(Study, study_pk))
        answers = _second_read(base, rng, flip_share) if flip_share else base
        measured = _measurements(generated.truth, rng)
        spacing = float(generated.truth.get("pixel_spacing_mm") or 0.1)
        for key, (value_mm, sop_uid) in measured.items():
            store.set_measurement(
                session,
                audit.id,
                key,
                value_px=round(value_mm / spacing, 1),
                value_mm=round(value_mm, 1),
                calibration_source="imager_pixel_spacing",
                sop_uid=sop_uid,
                reviewer_pk=reviewer_pk,
            )
        given = [(k, value, reason) for k, (value, reason) in answers.items() if k[0] != "_"]
        set_answers(session, audit.id, given, reviewer_pk)  # one INSERT, same rows as one by one
        if not flip_share:
            comment = _comment(answers, measured)
            if comment and (flag or rng.random() < 0.6):
                store.set_comment(session, audit.id, comment, reviewer_pk)
        if flag:
            store.set_learning_opportunity(session, audit.id, True, reviewer_pk)
        result = save_computed_score(session, audit.id)
        if not result.complete:
            raise AuditingError(
                "Demo audit incomplete: " + ", ".join(result.missing_required[:5]) + "."
            )
        store.set_status(session, audit.id, "complete", reviewer_pk)
        _backdate(session, audit.id, when, rng)
        del keep
    return True


def _backdate(session: Session, audit_pk: int, when: dt.datetime, rng: np.random.Generator) -> None:
    """Give the audit the times a reviewer would have made it at (a few minutes' work)."""
    start = when
    end = when + dt.timedelta(minutes=int(rng.integers(3, 12)))
    session.execute(
        update(Audit)
        .where(Audit.id == audit_pk)
        .values(started_at=start, updated_at=end, completed_at=end)
    )
    for model, column in (
        (AuditEvent, AuditEvent.at),
        (AuditAnswer, AuditAnswer.answered_at),
        (AuditMeasurement, AuditMeasurement.measured_at),
        (AuditScore, AuditScore.computed_at),
    ):
        session.execute(update(model).where(model.audit_pk == audit_pk).values({column: end}))
    session.execute(
        update(AuditEvent)
        .where(AuditEvent.audit_pk == audit_pk, AuditEvent.old_value.is_(None))
        .where(AuditEvent.kind == "status")
        .values(at=start)
    )


def _summary(session: Session, study_pks: list[int]) -> dict[str, int]:
    """Totals over the demo studies' complete positioning audits."""
    rows = session.execute(
        select(Audit.study_pk, Audit.learning_opportunity).where(
            Audit.study_pk.in_(study_pks),
            Audit.checklist_id == CHECKLIST_ID,
            Audit.status == "complete",
        )
    ).all()
    per_study: dict[int, int] = defaultdict(int)
    for study_pk, _flag in rows:
        per_study[study_pk] += 1
    return {
        "audits": len(rows),
        "exams_audited": len(per_study),
        "double_read": sum(n > 1 for n in per_study.values()),
        "learning_flags": sum(bool(flag) for _pk, flag in rows),
    }


__all__ = [
    "DEMO_REVIEWERS",
    "DEMO_SITE",
    "DEMO_TECHNOLOGISTS",
    "DemoAuditError",
    "fill_demo_audits",
]
