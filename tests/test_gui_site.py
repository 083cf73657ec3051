"""Site setup and sample drawing dialogs, driven as a team leader would."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt

from auditdesk.dicom.index import import_paths
from auditdesk.qi import sampling, site
from auditdesk.store import audits as store
from auditdesk.store.models import Study

pytestmark = pytest.mark.gui


@pytest.fixture
def world(db):
    """Mammograms over two weeks with raw operator names (variants, initials, a blank)."""
    with db.transaction() as s:
        for n, (day, raw) in enumerate(
            [
                (dt.date(2026, 3, 2), "SMITH^JANE"),
                (dt.date(2026, 3, 3), "J.S."),
                (dt.date(2026, 3, 4), "J.S."),
                (dt.date(2026, 3, 5), "DOE^A"),
                (dt.date(2026, 3, 10), ""),
            ]
        ):
            s.add(
                Study(study_uid=f"1.2.3.4.{n}", procedure_date=day, kind="mammo", technologist=raw)
            )
        tl = store.create_reviewer(s, "Tara Lead", "team_leader", "TL").id
        rv = store.create_reviewer(s, "Rob Viewer", "technologist", "RV").id
        site.add_technologist(s, "Jane Smith", "JS")
    return db, tl, rv


def _dialog(qtbot, db):
    from auditdesk.ui.qi.site_dialog import SiteDialog

    dialog = SiteDialog(db)
    qtbot.addWidget(dialog)
    return dialog


def _unmapped(dialog) -> list[str]:
    items = [dialog.unmapped_list.item(i) for i in range(dialog.unmapped_list.count())]
    return [i.data(Qt.ItemDataRole.UserRole) for i in items if i.data(Qt.ItemDataRole.UserRole)]


def test_map_an_operator_name_to_a_technologist(qtbot, world) -> None:
    db, _tl, _rv = world
    dialog = _dialog(qtbot, db)
    # "SMITH^JANE" already resolves to Jane Smith by name; initials and variants do not.
    assert _unmapped(dialog) == ["J.S.", "DOE^A"]
    assert "J.S.   (2 exams)" in dialog.unmapped_list.item(0).text()
    dialog.unmapped_list.setCurrentRow(0)
    dialog.map_combo.setCurrentIndex(dialog.map_combo.findData("Jane Smith"))
    dialog.map_button.click()
    assert _unmapped(dialog) == ["DOE^A"]
    # A new technologist, then the remaining variant mapped to them.
    dialog.new_tech_name.setText("Alex Doe")
    dialog.new_tech_initials.setText("AD")
    dialog.new_tech_location.setCurrentText("North")
    dialog.add_tech_button.click()
    dialog.unmapped_list.setCurrentRow(0)
    dialog.map_combo.setCurrentIndex(dialog.map_combo.findData("Alex Doe"))
    dialog.map_button.click()
    assert _unmapped(dialog) == []
    with db.session() as s:  # nothing saved before OK
        assert site.unmapped_operator_names(s) == [("J.S.", 2), ("DOE^A", 1)]
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert dialog.result() == dialog.DialogCode.Accepted
    with db.session() as s:
        resolve = site.technologist_resolver(s)
        assert resolve("J.S.") == "Jane Smith"
        assert resolve("DOE^A") == "Alex Doe"
        assert [n for n, _c in site.unmapped_operator_names(s) if n.strip()] == []
        alex = site.find_technologist(s, "Alex Doe")
        assert alex is not None and alex.initials == "AD" and alex.location == "North"


def test_site_fields_are_saved(qtbot, world) -> None:
    db, _tl, _rv = world
    dialog = _dialog(qtbot, db)
    assert "all four views" in dialog.meets_label.text()  # the checklist's own rule
    dialog.name_edit.setText("Riverside Breast Center")
    dialog.site_id_edit.setText("RBC01")
    dialog.organisation_edit.setText("Riverside Health")
    dialog.collaborative_edit.setText("ACR Learning Network — Mammography Positioning")
    dialog.goal_edit.setText("85 %")
    dialog.tabs.setCurrentIndex(2)
    dialog.new_location.setText("Main Campus")
    dialog.add_location_button.click()
    dialog.location_combo.setCurrentText("Main Campus")
    assert dialog.evaluators_table.rowCount() == 2
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert dialog.result() == dialog.DialogCode.Accepted
    with db.session() as s:
        saved = site.get_site(s)
        assert site.list_locations(s) == ["Main Campus"]
    assert saved.site_name == "Riverside Breast Center"
    assert saved.site_id == "RBC01"
    assert saved.organisation == "Riverside Health"
    assert saved.goal_pct == 85
    assert saved.checklist_id == "acr-mammo-positioning"
    assert saved.default_location == "Main Campus"
    assert not saved.is_demo


@pytest.mark.parametrize("goal", ["120", "-5", "lots"])
def test_a_bad_goal_is_refused_and_nothing_is_saved(qtbot, world, goal) -> None:
    db, _tl, _rv = world
    dialog = _dialog(qtbot, db)
    dialog.name_edit.setText("Should not be saved")
    dialog.goal_edit.setText(goal)
    dialog.new_tech_name.setText("Nobody New")
    dialog.add_tech_button.click()
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert dialog.isVisible() or dialog.result() != dialog.DialogCode.Accepted
    assert "goal must be a percentage from 0 to 100" in dialog.error_label.text()
    with db.session() as s:
        assert site.get_site(s).site_name == ""
        assert site.find_technologist(s, "Nobody New") is None
    # Corrected, it saves (the technologist added before the refusal included).
    dialog.goal_edit.setText("90")
    assert dialog.save()
    with db.session() as s:
        assert site.get_site(s).goal_pct == 90
        assert site.find_technologist(s, "Nobody New") is not None


def test_sampling_dialog_draws_a_reproducible_sample(qtbot, db, test_set) -> None:
    from auditdesk.ui.qi.sampling_dialog import SamplingDialog, default_week

    import_paths(db, [test_set.root])
    with db.transaction() as s:
        a = store.create_reviewer(s, "Ann Reader", "technologist", "AR").id
        b = store.create_reviewer(s, "Ben Reader", "team_leader", "BR").id
    dialog = SamplingDialog(db, None, reviewer_pk=b)
    qtbot.addWidget(dialog)
    week = dt.date(2026, 3, 1)
    assert dialog.week() == week  # the only week with mammograms, and it has ended
    assert default_week([week, week + dt.timedelta(days=7)], today=week + dt.timedelta(days=9)) == (
        week
    )
    assert "eligible" in dialog.week_combo.currentText()
    dialog.mode_combo.setCurrentIndex(dialog.mode_combo.findData("overall"))
    dialog.n_spin.setValue(1)
    dialog.second_spin.setValue(100)
    assert dialog.draw()
    seed = dialog.last_seed
    assert seed is not None and str(seed) in dialog.seed_label.text()
    assert dialog.table.rowCount() == 1
    first = [(i.study_pk, i.primary_reviewer_pk, i.second_reviewer_pk) for i in dialog.items]
    assert {first[0][1], first[0][2]} == {a, b}
    headers = [dialog.table.horizontalHeaderItem(c).text() for c in range(4)]
    assert headers == ["Procedure date", "Technologist", "Primary reviewer", "Second reviewer"]
    assert dialog.table.item(0, 0).text().startswith("2026-03-")
    with db.session() as s:
        plan = sampling.sample_plan(s, week)
        assert plan is not None and plan.seed == seed and plan.created_by == b
        assert sampling.sample_study_pks(s, week) == {first[0][0]}
    # The same seed draws the same sample.
    dialog.seed_edit.setText(str(seed))
    assert dialog.draw()
    assert [(i.study_pk, i.primary_reviewer_pk, i.second_reviewer_pk) for i in dialog.items] == (
        first
    )
    # Once auditing has started the week cannot be redrawn: the reason is shown.
    from auditdesk.reading.auditing import AuditSession, find_checklist

    AuditSession.start(
        db, study_pk=first[0][0], reviewer_pk=a, checklist=find_checklist("acr-mammo-positioning")
    )
    dialog.seed_edit.setText("")
    assert not dialog.draw()
    assert "cannot be redrawn" in dialog.error_label.text()
    # A reopened dialog shows the stored sample with its seed.
    again = SamplingDialog(db, None, reviewer_pk=b)
    qtbot.addWidget(again)
    assert again.table.rowCount() == 1
    assert str(seed) in again.seed_label.text()


def test_sampling_dialog_refuses_a_bad_seed(qtbot, db, test_set) -> None:
    from auditdesk.ui.qi.sampling_dialog import SamplingDialog

    import_paths(db, [test_set.root])
    dialog = SamplingDialog(db, None)
    qtbot.addWidget(dialog)
    dialog.seed_edit.setText("abc")
    assert not dialog.draw()
    assert "seed must be a whole number" in dialog.error_label.text()
    with db.session() as s:
        assert sampling.sample_weeks(s) == []
