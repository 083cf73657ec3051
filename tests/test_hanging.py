"""The mammography hanging protocol (no Qt): which image goes in which 2x2 slot."""

from __future__ import annotations

import pytest

from auditdesk.dicom.index import import_paths
from auditdesk.reading.hanging import MAMMO_SLOTS, chest_wall_side, hang_mammo, slot_transform
from auditdesk.store.catalog import ImageSummary, SeriesSummary, StudySummary, list_studies


@pytest.fixture
def indexed(db, test_set):
    import_paths(db, [test_set.root])
    with db.session() as session:
        studies = list_studies(session, kind="mammo")
    return studies


def _truth(test_set, study_uid: str) -> dict[str, str]:
    """slot -> sop_uid of the screening image the generator wrote for it."""
    study = next(s for s in test_set.studies if s.study_uid == study_uid)
    return {
        f"{f.laterality}{f.view}": f.sop_uid
        for f in study.files
        if not f.for_processing and not f.modifier and f"{f.laterality}{f.view}" in MAMMO_SLOTS
    }


def test_slots_are_in_2x2_reading_order() -> None:
    assert MAMMO_SLOTS == ("RMLO", "LMLO", "RCC", "LCC")
    # Right breast in the left column: chest wall on the right edge, at the centre line.
    assert [chest_wall_side(s) for s in MAMMO_SLOTS] == ["right", "left", "right", "left"]


def test_each_generated_view_hangs_in_its_slot(indexed, test_set) -> None:
    assert len(indexed) == 2
    for study in indexed:
        hanging = hang_mammo(study)
        assert list(hanging.slots) == list(MAMMO_SLOTS)
        sop = {img.id: img.sop_uid for s in study.series for img in s.images}
        truth = _truth(test_set, study.study_uid)
        assert set(truth) == set(MAMMO_SLOTS)
        for slot, choice in hanging.slots.items():
            assert choice.image_id is not None, choice.note
            assert sop[choice.image_id] == truth[slot], slot
            assert choice.note == ""
        assert hanging.missing == []


def test_spot_mag_and_for_processing_images_go_to_extras(indexed, test_set) -> None:
    first = next(s for s in test_set.studies if s.kind == "mammo" and s.index == 1)
    study = next(s for s in indexed if s.study_uid == first.study_uid)
    hanging = hang_mammo(study)
    extra_uids = {img.sop_uid for img in hanging.extras}
    expected = {f.sop_uid for f in first.files if f.for_processing or f.modifier}
    assert any(f.modifier for f in first.files) and any(f.for_processing for f in first.files)
    assert extra_uids == expected
    hung = set(hanging.image_ids)
    assert not hung & {img.id for img in hanging.extras}
    assert len(hung) + len(hanging.extras) == study.n_images


def test_a_missing_view_leaves_an_empty_slot_with_a_sentence(indexed) -> None:
    study = indexed[0]
    for series in study.series:
        series.images = [img for img in series.images if img.label != "LMLO"]
    hanging = hang_mammo(study)
    assert hanging.slots["LMLO"].image_id is None
    assert hanging.slots["LMLO"].note == "No LMLO image in this study."
    assert hanging.missing == ["LMLO"]
    assert all(hanging.slots[s].image_id is not None for s in ("RMLO", "RCC", "LCC"))


def _image(ident: int, label: str, *, screening: bool, instance: int, reason: str | None = None):
    return ImageSummary(
        id=ident, sop_uid=f"1.{ident}", instance_number=instance, path=f"/x/{ident}.dcm",
        archive_member=None, rows=10, columns=8, n_frames=1, photometric="MONOCHROME2",
        transfer_syntax_uid=None, view=label[1:], view_source="header", laterality=label[0],
        laterality_source="header", modifiers=[], is_screening_view=screening,
        exclusion_reason=reason, is_tomosynthesis=False, lossy=False, slice_order=None,
        slice_position_mm=None, b_values=[], temporal_position=None,
    )  # fmt: skip


def _study(series: list[tuple[int, list[ImageSummary]]]) -> StudySummary:
    return StudySummary(
        id=1, study_uid="1", patient_id=None, accession_number=None, procedure_date=None,
        description=None, kind="mammo", modalities="MG", technologist=None,
        series=[
            SeriesSummary(
                id=n, series_uid=f"s{n}", series_number=n, description=None, modality="MG",
                presentation_intent="FOR PRESENTATION", role=None, role_reasons=[], b_values=[],
                n_temporal_positions=0, temporal_resolution_s=None, images=imgs,
            )
            for n, imgs in series
        ],
    )  # fmt: skip


def test_latest_screening_image_wins_and_fallbacks_say_why() -> None:
    study = _study(
        [
            (1, [_image(1, "RCC", screening=True, instance=1)]),
            (2, [_image(2, "RCC", screening=True, instance=1)]),
            (3, [_image(3, "LCC", screening=False, instance=1, reason="Spot compression view.")]),
        ]
    )
    hanging = hang_mammo(study)
    assert hanging.slots["RCC"].image_id == 2
    assert "latest" in hanging.slots["RCC"].note
    assert [i.id for i in hanging.extras] == [1]
    assert hanging.slots["LCC"].image_id == 3
    assert "Spot compression view" in hanging.slots["LCC"].note
    assert hanging.slots["RMLO"].note == "No RMLO image in this study."


def test_slot_transform_puts_the_chest_wall_at_the_centre_line() -> None:
    # Conventional storage: R CC "P\\L" has the chest wall on the right already.
    assert slot_transform("RCC", ("P", "L")).flip_left_right is False
    assert slot_transform("LCC", ("A", "R")).flip_left_right is False
    # Stored the other way round: mirrored.
    assert slot_transform("RMLO", ("A", "FR")).flip_left_right is True
    assert slot_transform("LMLO", ("P", "FL")).flip_left_right is True
    # No Patient Orientation: conventional storage assumed, chest wall side from the slot.
    assert slot_transform("RMLO", ()).chest_wall_side == "right"
    assert slot_transform("LCC", ()).chest_wall_side == "left"
