"""Weekly audit samples: which exams of a week get audited, and by whom.

Why it is shaped like this:

* **Reproducible.** Candidates are sorted by (procedure date, Study Instance UID) and drawn with
  ``random.Random(seed)``; the plan (mode, n, seed, second-reviewer share, screening-only,
  reviewers, who drew it, when) is stored, so anyone can redraw the same week on the same data
  and get the same exams — the sample can be audited itself.
* **Per technologist by default.** The ACR Learning Network asks for a few exams per
  technologist per week, so exams are grouped by canonical technologist (aliases applied via
  :func:`auditdesk.qi.site.technologist_resolver`); a technologist with fewer exams than asked is
  taken whole.
* **Screening 4-view exams only** unless told otherwise: a study counts when it has RCC, LCC,
  RMLO and LMLO images marked as screening views (spot, magnification, implant-displaced and
  FOR PROCESSING images are not; reviewer corrections apply).
* **Double reads.** A share of the sampled exams also gets a second reviewer, never the same
  person as the primary, to measure agreement between reviewers.
* **A started sample is fixed.** A week may be redrawn only while none of its sampled exams has
  an audit; the replaced plan stays in the database for the record.
* No Qt here.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.qi.site import normalise_operator, technologist_resolver
from auditdesk.reading.exam_views import SCREENING_ORDER
from auditdesk.reading.exam_views import mammo_views as _mammo_views
from auditdesk.reading.weeks import week_start
from auditdesk.store import models as m
from auditdesk.store.catalog import _overrides as classification_overrides

MODES = ("per_technologist", "overall")
FULL_SCREENING = " ".join(SCREENING_ORDER)
SEED_LIMIT = 2**31


class SamplingError(ValueError):
    """A sample that cannot be drawn or changed; the message is one sentence for users."""


@dataclass
class SamplePlan:
    week_start: dt.date
    mode: str = "per_technologist"
    n: int = 5
    seed: int | None = None
    second_share: float = 0.15
    screening_only: bool = True
    reviewer_pks: list[int] = field(default_factory=list)
    # Filled in for stored plans (sample_plan): the record of who drew it and when.
    plan_id: int | None = None
    created_by: int | None = None
    created_at: dt.datetime | None = None


@dataclass
class SampleItem:
    study_pk: int
    week_start: dt.date
    technologist: str | None
    primary_reviewer_pk: int | None
    second_reviewer_pk: int | None


def _week(d: dt.date) -> dt.date:
    if not isinstance(d, dt.date):
        raise SamplingError(f"A week needs a date, not {d!r}.")
    return week_start(d)


def eligible_studies(
    session: Session, week_start: dt.date, *, screening_only: bool = True
) -> list[int]:
    """Mammography studies performed in the Sunday-Saturday week of ``week_start``, sorted by
    (procedure date, study UID); with ``screening_only`` only complete 4-view screening exams."""
    first = _week(week_start)
    last = first + dt.timedelta(days=6)
    ids = select(m.Study.id).where(
        m.Study.kind == "mammo",
        m.Study.procedure_date >= first,
        m.Study.procedure_date <= last,
    )
    rows = session.execute(
        select(m.Study.id, m.Study.procedure_date, m.Study.study_uid).where(m.Study.id.in_(ids))
    ).all()
    rows.sort(key=lambda r: (r[1], r[2]))
    if not screening_only:
        return [r[0] for r in rows]
    views = _mammo_views(session, ids, classification_overrides(session))
    return [r[0] for r in rows if views.get(r[0]) == FULL_SCREENING]


def _current_plan(session: Session, week: dt.date) -> m.SamplePlan | None:
    return session.scalars(
        select(m.SamplePlan)
        .where(m.SamplePlan.week_start == week, m.SamplePlan.replaced_at.is_(None))
        .order_by(m.SamplePlan.id.desc())
    ).first()


def _validate(session: Session, plan: SamplePlan, created_by: int | None) -> list[int]:
    if plan.mode not in MODES:
        raise SamplingError(f"Unknown sampling mode {plan.mode!r}; use one of {', '.join(MODES)}.")
    if isinstance(plan.n, bool) or not isinstance(plan.n, int) or plan.n < 1:
        raise SamplingError(
            f"The number of exams must be a whole number of at least 1, not {plan.n!r}."
        )
    if not 0 <= plan.second_share <= 1:
        raise SamplingError(
            f"The second-reviewer share must be between 0 and 1, not {plan.second_share}."
        )
    if plan.seed is not None and (isinstance(plan.seed, bool) or not isinstance(plan.seed, int)):
        raise SamplingError(f"The seed must be a whole number, not {plan.seed!r}.")
    if plan.seed is not None and not 0 <= plan.seed < 2**63:
        raise SamplingError("The seed must be between 0 and 2^63 - 1.")
    reviewers = list(dict.fromkeys(plan.reviewer_pks))
    if reviewers:
        found = set(session.scalars(select(m.Reviewer.id).where(m.Reviewer.id.in_(reviewers))))
        missing = [pk for pk in reviewers if pk not in found]
        if missing:
            raise SamplingError(f"There is no reviewer with id {missing[0]}.")
    if created_by is not None and session.get(m.Reviewer, created_by) is None:
        raise SamplingError(f"There is no reviewer with id {created_by}.")
    return reviewers


def _choose(
    rng: random.Random, rows: list[tuple[int, dt.date, str, str | None]], plan: SamplePlan
) -> list[tuple[int, dt.date, str, str | None]]:
    """The sampled rows, in candidate order; consumes the RNG in a fixed order."""
    if plan.mode == "overall":
        picked = rows if len(rows) <= plan.n else rng.sample(rows, plan.n)
    else:
        groups: dict[str | None, list[tuple[int, dt.date, str, str | None]]] = defaultdict(list)
        for row in rows:
            groups[row[3]].append(row)
        picked = []
        for key in sorted(groups, key=lambda k: (k is None, k or "")):
            group = groups[key]
            picked.extend(group if len(group) <= plan.n else rng.sample(group, plan.n))
    order = {row[0]: i for i, row in enumerate(rows)}
    return sorted(picked, key=lambda r: order[r[0]])


def _assign(
    session: Session,
    rng: random.Random,
    picked: list[tuple[int, dt.date, str, str | None]],
    reviewers: list[int],
    second_share: float,
) -> list[tuple[int | None, int | None]]:
    """(primary, second) per sampled exam: primaries round-robin (skipping a reviewer who is the
    exam's own technologist when someone else can read it), seconds for a share of the exams."""
    if not reviewers:
        return [(None, None)] * len(picked)
    names = {
        pk: normalise_operator(name)
        for pk, name in session.execute(
            select(m.Reviewer.id, m.Reviewer.name).where(m.Reviewer.id.in_(reviewers))
        )
    }

    def is_own(reviewer: int, tech: str | None) -> bool:
        return tech is not None and names.get(reviewer) == normalise_operator(tech)

    out: list[tuple[int | None, int | None]] = []
    for i, row in enumerate(picked):
        turn = [reviewers[(i + j) % len(reviewers)] for j in range(len(reviewers))]
        primary = next((r for r in turn if not is_own(r, row[3])), turn[0])
        out.append((primary, None))
    if len(reviewers) < 2 or not picked:
        return out
    n_second = min(len(picked), int(second_share * len(picked) + 0.5))  # round half up
    for index in sorted(rng.sample(range(len(picked)), n_second)):
        primary = out[index][0]
        others = [r for r in reviewers if r != primary]
        preferred = [r for r in others if not is_own(r, picked[index][3])] or others
        out[index] = (primary, rng.choice(preferred))
    return out


def draw_sample(
    session: Session, plan: SamplePlan, created_by: int | None = None
) -> tuple[int, list[SampleItem]]:
    """Draw and store the sample of a week; returns (seed used, items). The same seed on the
    same data gives the same sample. A redraw replaces the week's sample only while none of
    its exams has an audit."""
    reviewers = _validate(session, plan, created_by)
    week = _week(plan.week_start)
    current = _current_plan(session, week)
    if current is not None:
        study_pks = [item.study_pk for item in current.items]
        started = session.scalars(
            select(m.Audit.id).where(m.Audit.study_pk.in_(study_pks)).limit(1)
        ).first()
        if started is not None:
            raise SamplingError(
                f"The sample of the week of {week.isoformat()} cannot be redrawn because "
                "auditing of its exams has started."
            )
    seed = plan.seed if plan.seed is not None else secrets.randbelow(SEED_LIMIT)
    candidates = eligible_studies(session, week, screening_only=plan.screening_only)
    resolve = technologist_resolver(session)
    rows = [
        (pk, date, uid, resolve(raw))
        for pk, date, uid, raw in session.execute(
            select(
                m.Study.id, m.Study.procedure_date, m.Study.study_uid, m.Study.technologist
            ).where(m.Study.id.in_(candidates))
        )
    ]
    rows.sort(key=lambda r: (r[1], r[2]))
    rng = random.Random(seed)
    picked = _choose(rng, rows, plan)
    assigned = _assign(session, rng, picked, reviewers, plan.second_share)

    now = m.utcnow()
    if current is not None:
        current.replaced_at = now
    stored = m.SamplePlan(
        week_start=week,
        mode=plan.mode,
        n=plan.n,
        seed=seed,
        second_share=float(plan.second_share),
        screening_only=bool(plan.screening_only),
        reviewer_pks=reviewers,
        created_by=created_by,
        created_at=now,
    )
    items = []
    for row, (primary, second) in zip(picked, assigned, strict=True):
        stored.items.append(
            m.SampleItem(
                study_pk=row[0],
                technologist=row[3],
                primary_reviewer_pk=primary,
                second_reviewer_pk=second,
            )
        )
        items.append(SampleItem(row[0], week, row[3], primary, second))
    session.add(stored)
    session.flush()
    return seed, items


def week_sample(session: Session, week_start: dt.date) -> list[SampleItem]:
    """The current sample of a week, in (procedure date, UID) order; empty when none drawn."""
    week = _week(week_start)
    plan = _current_plan(session, week)
    if plan is None:
        return []
    return [
        SampleItem(i.study_pk, week, i.technologist, i.primary_reviewer_pk, i.second_reviewer_pk)
        for i in plan.items
    ]


def sample_plan(session: Session, week_start: dt.date) -> SamplePlan | None:
    """The current plan of a week as stored (seed included), or None."""
    row = _current_plan(session, _week(week_start))
    if row is None:
        return None
    return SamplePlan(
        week_start=row.week_start,
        mode=row.mode,
        n=row.n,
        seed=row.seed,
        second_share=row.second_share,
        screening_only=row.screening_only,
        reviewer_pks=list(row.reviewer_pks or []),
        plan_id=row.id,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def sample_weeks(session: Session) -> list[dt.date]:
    """Weeks with a current sample, newest first."""
    return list(
        session.scalars(
            select(m.SamplePlan.week_start)
            .where(m.SamplePlan.replaced_at.is_(None))
            .distinct()
            .order_by(m.SamplePlan.week_start.desc())
        )
    )


def sample_study_pks(session: Session, week_start: dt.date | None = None) -> set[int]:
    """Studies in the current sample of a week, or of all weeks when ``week_start`` is None."""
    query = (
        select(m.SampleItem.study_pk)
        .join(m.SamplePlan, m.SamplePlan.id == m.SampleItem.plan_pk)
        .where(m.SamplePlan.replaced_at.is_(None))
    )
    if week_start is not None:
        query = query.where(m.SamplePlan.week_start == _week(week_start))
    return set(session.scalars(query))


def primary_reviewer(session: Session, study_pk: int) -> int | None:
    """The primary reviewer of a study in the newest current sample containing it, or None."""
    return session.scalars(
        select(m.SampleItem.primary_reviewer_pk)
        .join(m.SamplePlan, m.SamplePlan.id == m.SampleItem.plan_pk)
        .where(m.SampleItem.study_pk == study_pk, m.SamplePlan.replaced_at.is_(None))
        .order_by(m.SamplePlan.created_at.desc(), m.SamplePlan.id.desc())
        .limit(1)
    ).first()


def assignment_map(session: Session) -> dict[int, tuple[int | None, int | None]]:
    """study pk -> (primary, second reviewer) for every study in a current sample (one query;
    the newest plan wins), for the worklist and for reports."""
    rows = session.execute(
        select(
            m.SampleItem.study_pk,
            m.SampleItem.primary_reviewer_pk,
            m.SampleItem.second_reviewer_pk,
        )
        .join(m.SamplePlan, m.SamplePlan.id == m.SampleItem.plan_pk)
        .where(m.SamplePlan.replaced_at.is_(None))
        .order_by(m.SamplePlan.created_at, m.SamplePlan.id)
    )
    return {study_pk: (primary, second) for study_pk, primary, second in rows}


def primary_reviewer_map(session: Session) -> dict[int, int]:
    """study pk -> primary reviewer for every sampled study (one query; newest plan wins), for
    reports that ask per exam: ``primary_of=primary_reviewer_map(s).get``."""
    return {
        study_pk: primary
        for study_pk, (primary, _second) in assignment_map(session).items()
        if primary is not None
    }


__all__ = [
    "MODES",
    "SampleItem",
    "SamplePlan",
    "SamplingError",
    "assignment_map",
    "draw_sample",
    "eligible_studies",
    "primary_reviewer",
    "primary_reviewer_map",
    "sample_plan",
    "sample_study_pks",
    "sample_weeks",
    "week_sample",
]
