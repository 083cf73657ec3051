"""Several processes writing the same new audit at once: all succeed, one audit, no answer lost.

Before the fix two processes opening the same new audit (same reviewer, study, checklist) raced:
one got ``IntegrityError: UNIQUE constraint failed: audits...`` and its answer was lost. Write
transactions now take SQLite's write lock at their start (``BEGIN IMMEDIATE``), so "look up,
else insert" cannot interleave; writers queue with a bounded wait.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

from sqlalchemy import func, select

from auditdesk.store.db import open_database
from auditdesk.store.models import Audit, AuditAnswer, Reviewer, Study

REPO_ROOT = Path(__file__).resolve().parents[1]
KEYS = ["RCC:medial_tissue", "RCC:lateral_tissue", "LCC:medial_tissue", "LCC:lateral_tissue"]
N_PROCESSES = 8 if os.environ.get("AUDITDESK_LONG_TESTS") else 4


def _answer(url: str, key: str, start: mp.synchronize.Barrier, out: mp.Queue) -> None:
    """One process: open the database, wait until every process is ready, record one answer."""
    try:
        from auditdesk.checklists.loader import load_checklist_file
        from auditdesk.reading.auditing import record_audit

        checklist = load_checklist_file(REPO_ROOT / "checklists" / "acr-mammo-positioning.toml")
        db = open_database(url)
        with db.session() as s:
            study = s.scalar(select(Study.id))
            reviewer = s.scalar(select(Reviewer.id))
        start.wait(60)  # released together: the writes really overlap
        audit_pk = record_audit(
            db, study_pk=study, reviewer_pk=reviewer, checklist=checklist, answers=[(key, "pass")]
        )
        db.dispose()
        out.put(("ok", key, audit_pk))
    except BaseException as exc:  # reported to the parent, which fails the test
        out.put(("error", key, f"{type(exc).__name__}: {exc}"))


def test_four_processes_answer_the_same_new_audit(tmp_path: Path) -> None:
    from auditdesk.store.audits import create_reviewer

    url = f"sqlite:///{tmp_path / 'race.sqlite'}"
    db = open_database(url)
    with db.transaction() as s:
        s.add(Study(study_uid="1.2.826.0.1.3680043.10.999.77", kind="mammo"))
        create_reviewer(s, "Casey", "team_leader", "CA")
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(N_PROCESSES), ctx.Queue()
    keys = [KEYS[i % len(KEYS)] for i in range(N_PROCESSES)]
    procs = [ctx.Process(target=_answer, args=(url, key, start, out)) for key in keys]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    errors = [r for r in results if r[0] != "ok"]
    assert not errors, errors
    assert len({r[2] for r in results}) == 1  # every process wrote into the same audit
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Audit)) == 1
        answers = dict(s.execute(select(AuditAnswer.key, AuditAnswer.value)).all())
    assert set(answers) == set(keys)  # no answer lost
    db.dispose()
