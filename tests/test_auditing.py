"""Auditing glue: DICOM header facts for the PI-RADS header rules, and scoring per change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from auditdesk.dicom.index import import_paths
from auditdesk.reading.auditing import AuditingError, AuditSession, find_checklist, header_facts
from auditdesk.store.audits import audit_state, create_reviewer
from auditdesk.store.models import Study


@pytest.fixture
def indexed(db, test_set):
    import_paths(db, [test_set.root])
    return db, test_set


def _mr_study(db, test_set, vendor: str):
    truth = next(st for st in test_set.studies if st.kind == "mr" and st.truth["vendor"] == vendor)
    with db.session() as session:
        pk = session.scalar(select(Study.id).where(Study.study_uid == truth.study_uid))
    return pk, truth


def test_header_facts_match_the_generated_protocol(indexed) -> None:
    db, test_set = indexed
    for study in (st for st in test_set.studies if st.kind == "mr"):
        pk, truth = _mr_study(db, test_set, study.truth["vendor"])
        with db.session() as session:
            facts = header_facts(session, pk)
        series = {s["role"]: s for s in truth.truth["series"].values() if not s["calculated"]}
        assert facts["T2W:slice_thickness_mm"] == pytest.approx(series["T2W"]["slice_thickness_mm"])
        assert facts["DWI:slice_thickness_mm"] == pytest.approx(series["DWI"]["slice_thickness_mm"])
        assert facts["DWI:b_values"] == pytest.approx(sorted(truth.truth["b_values"]))
        assert facts["DWI:calculated_b_values"] == pytest.approx(
            sorted(truth.truth.get("calculated_b_values") or [])
        )
        freq, phase = series["T2W"]["acquisition_matrix_freq_phase"]
        assert (facts["T2W:acquisition_matrix_freq"], facts["T2W:acquisition_matrix_phase"]) == (
            freq,
            phase,
        )
        acquired = series["T2W"]["acquired_resolution_mm"]
        assert facts["T2W:fov_freq_mm"] / freq == pytest.approx(acquired["frequency"], abs=1e-3)
        assert facts["T2W:fov_phase_mm"] / phase == pytest.approx(acquired["phase"], abs=1e-3)
        assert facts["DCE:temporal_resolution_s"] > 0
        # The ADC map's single header b-value says nothing about how it was computed.
        assert "ADC:b_values" not in facts
        assert not any(
            k.endswith("calculated_b_values") for k in facts if k != "DWI:calculated_b_values"
        )


def test_mammography_study_has_no_mr_facts(indexed) -> None:
    db, _test_set = indexed
    with db.session() as session:
        pk = session.scalar(select(Study.id).where(Study.kind == "mammo"))
        assert header_facts(session, pk) == {}


def test_every_answer_is_scored_in_the_same_transaction(indexed) -> None:
    db, test_set = indexed
    pk, _truth = _mr_study(db, test_set, "siemens")
    with db.transaction() as session:
        reviewer = create_reviewer(session, "MR Tech", "technologist", "MT")
        reviewer_pk = reviewer.id
    audit = AuditSession.start(
        db, study_pk=pk, reviewer_pk=reviewer_pk, checklist=find_checklist("pi-qual-v2")
    )
    state = audit.state()
    computed = state.score.result["computed"]
    # Header rules are pre-filled from DICOM, never left as a bare "pass" without facts.
    assert computed, "PI-QUAL v2 prerequisites should be computed from the header"
    assert all(c["value"] in ("pass", "fail", "not_determinable") for c in computed.values())
    before = state.score.result["missing_required"]
    key = before[0]
    audit.answer(key, _any_valid_value(audit, key))
    after = audit.state().score.result["missing_required"]
    assert key not in after and len(after) == len(before) - 1
    with db.session() as session:
        assert audit_state(session, audit.audit_pk).answers[key] is not None


def test_complete_is_refused_while_required_answers_are_missing(indexed) -> None:
    db, _test_set = indexed
    with db.session() as session:
        pk = session.scalar(select(Study.id).where(Study.kind == "mammo"))
    with db.transaction() as session:
        reviewer_pk = create_reviewer(session, "T", "technologist", "T").id
    audit = AuditSession.start(
        db, study_pk=pk, reviewer_pk=reviewer_pk, checklist=find_checklist("pgmi")
    )
    with pytest.raises(AuditingError, match="required answers are missing"):
        audit.complete()


def test_unknown_checklist_is_a_clear_error() -> None:
    with pytest.raises(AuditingError, match="known checklists"):
        find_checklist("no-such-list")


def _any_valid_value(audit: AuditSession, key: str) -> object:
    from auditdesk.checklists.rules import item_for_key

    with audit.db.session() as session:
        from auditdesk.reading.auditing import stored_checklist
        from auditdesk.store.models import Audit, ChecklistVersion

        version = session.get(
            ChecklistVersion, session.get(Audit, audit.audit_pk).checklist_version_pk
        )
        item = item_for_key(stored_checklist(version), key)
    kind = item.type
    if kind == "pass_fail":
        return "pass"
    if kind in ("choice", "ordinal"):
        return item.options[0].value
    if kind == "number":
        return item.min if getattr(item, "min", None) is not None else 1
    return "ok"


def test_a_checklist_edited_in_place_after_use_is_refused(indexed) -> None:
    from auditdesk.checklists.loader import parse_checklist_text
    from auditdesk.reading.auditing import snapshot_checklist

    db, _test_set = indexed
    original = find_checklist("ear")
    with db.transaction() as session:
        snapshot_checklist(session, original)
        snapshot_checklist(session, original)  # idempotent
    edited = parse_checklist_text(original.source_text + "\n# edited\n", origin="site/ear.toml")
    assert edited.version == original.version and edited.content_hash != original.content_hash
    with pytest.raises(AuditingError, match="new version"), db.transaction() as session:
        snapshot_checklist(session, edited)
