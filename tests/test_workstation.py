"""Workstation rules without Qt: checklist choice, measurement keys, prefetch lists."""

from __future__ import annotations

import pytest

from auditdesk.checklists.loader import load_all
from auditdesk.dicom.index import import_paths
from auditdesk.reading.mr_layout import build_stacks, default_layout
from auditdesk.reading.workstation import (
    checklists_for,
    choose_checklist,
    measurement_values,
    prefetch_locations,
)
from auditdesk.store.catalog import list_studies


def test_checklist_choice_prefers_the_remembered_one_then_the_site_default():
    result = load_all()
    mg = checklists_for(result, "MG")
    assert {c.id for c in mg} >= {"acr-mammo-positioning", "pgmi", "ear"}
    assert all(c.modality == "MG" for c in mg)
    assert choose_checklist(result, "MG").id == "acr-mammo-positioning"
    assert choose_checklist(result, "MG", preferred="pgmi").id == "pgmi"
    assert choose_checklist(result, "MG", preferred="pi-qual-v2").id == "acr-mammo-positioning"
    assert choose_checklist(result, "MR").id == "pi-qual-v2"
    assert choose_checklist(result, None) is None


def test_pnl_on_mlo_fills_pnl_and_pectoral_distance():
    values = measurement_values("RMLO", "pnl_mlo", 98.5, 1000.0, {"pectoral_to_pnl_mm": 12.0})
    assert [(v.key, v.value_mm) for v in values] == [
        ("RMLO:pnl_mm", 98.5),
        ("RMLO:pectoral_to_pnl_mm", 12.0),
    ]
    cc = measurement_values("LCC", "pnl_cc", 91.0, 900.0, {})
    assert [(v.key, v.value_mm) for v in cc] == [("LCC:pnl_mm", 91.0)]
    uncalibrated = measurement_values("LMLO", "pnl_mlo", None, 700.0, {"pectoral_to_pnl_mm": 3})
    assert [v.value_mm for v in uncalibrated] == [None, None]
    assert measurement_values("RCC", "ruler", 10.0, 100.0, {})[0].key == "RCC:ruler_mm"
    with pytest.raises(ValueError):
        measurement_values("RCC", "angle", 1.0, 1.0, {})


def test_prefetch_lists_the_hung_views_and_one_slice_per_mr_series(db, test_set):
    import_paths(db, [test_set.root])
    with db.session() as session:
        studies = list_studies(session)
    mammo = next(s for s in studies if s.kind == "mammo")
    locations = prefetch_locations(mammo)
    assert 1 <= len(locations) <= 4
    assert len(set(locations)) == len(locations)
    assert all(frame == 0 for _loc, frame in locations)
    mr = next(s for s in studies if s.kind == "mr")
    with db.session() as session:
        stacks = build_stacks(session, mr.id)
    pairs = prefetch_locations(mr, stacks)
    # The middle slice of each stack the MR view shows first (T2W, highest-b DWI, ADC, DCE).
    shown = [next(st for st in stacks if st.label == label) for label in default_layout(stacks)]
    assert pairs == [
        (st.slice(0, st.n_slices // 2).location, st.slice(0, st.n_slices // 2).frame)
        for st in shown
    ]
    assert prefetch_locations(mr) == []
