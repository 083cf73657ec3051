"""The index: real files are found and classified, bad files get one-line reasons, re-import adds
nothing, zip and DICOMDIR sources work, overrides win and survive re-indexing."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pydicom
import pytest
from sqlalchemy import func, select

from auditdesk.dicom.index import import_paths, scan_location
from auditdesk.dicom.sources import Location
from auditdesk.store.catalog import OverrideError, list_studies, set_override
from auditdesk.store.models import Image, ImportIssue, Series, Study

# Files in shared/data that must be rejected at import, with a word the reason must contain.
EXPECTED_SKIPS = {
    "edge/3gb-bulk-data-truncated_MR.dcm": "truncated",
    "edge/ExplVR_BigEndNoMeta.dcm": "not an image",
    "edge/GH177_D_CLUNIE_CT1_IVRLE_BigEndian_undefined_length.dcm": "damaged",
    "edge/GH340_Philips_MR_BitsAllocated12_nometa.dcm": "SOP Instance UID",
    "edge/Issue1097_FailToOpenDeflatedFileWithSQ.dcm": "not an image",
    "edge/MR_truncated.dcm": "truncated",
    "edge/UN_sequence.dcm": "SOP Instance UID",
    "edge/badVR.dcm": "Number of Frames",
    "edge/emri_small_jpeg_2k_lossless_too_short.dcm": "truncated",
    "edge/meta_missing_tsyntax.dcm": "SOP Instance UID",
    "edge/no_meta.dcm": "not a DICOM file",
    "edge/no_meta_group_length.dcm": "SOP Instance UID",
    "edge/rtplan_truncated.dcm": "not an image",
    "edge/no_preamble_dicm_in_data_MG_header.dcm": "SOP Instance UID",
    # Holds a JPEG fragment (1.3 MB) under a native transfer syntax that declares 9.3 MB.
    "mg/GH1376_Hologic_Dimensions_tomo_recon_R_MLO_truncated.dcm": "compressed fragments",
}


def _rel(path: str, root: Path) -> str:
    return Path(path).resolve().relative_to(root.resolve()).as_posix()


@pytest.fixture(scope="module")
def shared_import(tmp_path_factory: pytest.TempPathFactory, shared_data: Path):
    from auditdesk.store.db import open_database

    data = shared_data.resolve()  # the index stores resolved paths (../shared may be a link)
    db = open_database(f"sqlite:///{tmp_path_factory.mktemp('db') / 'shared.sqlite'}")
    summary = import_paths(db, [data / "mg", data / "mr", data / "edge"])
    yield db, summary, data
    db.dispose()


def test_every_bad_file_gets_one_sentence_and_good_files_are_all_indexed(shared_import) -> None:
    db, summary, data = shared_import
    skipped = {_rel(s.path, data): s.reason for s in summary.skipped}
    for rel, word in EXPECTED_SKIPS.items():
        assert rel in skipped, f"{rel} should be skipped with a reason"
        reason = skipped[rel]
        assert "\n" not in reason and reason.endswith("."), reason
        assert word.lower() in reason.lower(), (rel, reason)
    unexpected = set(skipped) - set(EXPECTED_SKIPS)
    assert not unexpected, {k: skipped[k] for k in unexpected}
    good = {p for p in data.rglob("*.dcm") if p.relative_to(data).as_posix() not in EXPECTED_SKIPS}
    with db.session() as session:
        indexed_paths = {_rel(p, data) for p in session.scalars(select(Image.path))}
        indexed_uids = set(session.scalars(select(Image.sop_uid)))
        issues = session.scalar(select(func.count()).select_from(ImportIssue))
    # Every good file is indexed: at its own path, or (several real files are the same image in
    # different encodings, with one SOP Instance UID) as a duplicate copy of an indexed image.
    for path in good:
        uid = str(pydicom.dcmread(path, stop_before_pixels=True, force=True).SOPInstanceUID)
        assert uid in indexed_uids, path
    assert indexed_paths <= {p.relative_to(data).as_posix() for p in good}
    assert len(indexed_paths) + summary.duplicates == len(good)
    assert issues == len(EXPECTED_SKIPS)
    assert summary.usable_images == len(good)


def test_real_mammograms_are_classified(shared_import) -> None:
    db, _summary, data = shared_import
    with db.session() as session:
        rows = {
            Path(img.path).name: img
            for img in session.scalars(select(Image).where(Image.path.like(f"{data}/mg/%")))
        }
        kinds = {
            Path(img.path).name: kind
            for img, kind in session.execute(
                select(Image, Study.kind)
                .join(Series, Image.series_pk == Series.id)
                .join(Study, Series.study_pk == Study.id)
            )
        }
    ge = rows["GH133_GE_SenographeEssential_R_MLO.dcm"]
    assert (ge.laterality, ge.view, ge.view_source) == ("R", "MLO", "ViewCodeSequence")
    assert ge.is_screening_view is True
    siemens = rows["OutOfBoundsOverlay_Siemens_Mammomat_L_CC_stereo.dcm"]
    assert (siemens.laterality, siemens.view) == ("L", "CC")
    assert siemens.is_screening_view is False and siemens.exclusion_reason
    wg04 = rows["WG04_MG1_J2KI.dcm"]
    assert (wg04.laterality, wg04.view, wg04.lossy) == ("L", "MLO", True)
    assert kinds["WG04_MG1_J2KI.dcm"] == "mammo"
    assert kinds["GH133_GE_SenographeEssential_R_MLO.dcm"] == "mammo"


def test_real_prostate_adc_series_role_and_slice_order(shared_import) -> None:
    db, _summary, data = shared_import
    with db.session() as session:
        images = list(
            session.scalars(
                select(Image).where(Image.path.like(f"{data}/mr/prostate_adc_qin-prostate_ge/%"))
            )
        )
        series = session.get(Series, images[0].series_pk)
        assert series is not None
        assert series.mr_role == "ADC"
    assert len(images) == 20
    ordered = sorted(images, key=lambda i: i.slice_order)
    positions = [i.slice_position_mm for i in ordered]
    assert positions == sorted(positions) or positions == sorted(positions, reverse=True)
    assert len(set(positions)) == 20
    # File-name order is not spatial order in this series: the index must not rely on it.
    by_name = [i.slice_order for i in sorted(images, key=lambda i: Path(i.path).name)]
    assert by_name != sorted(by_name)


def test_real_philips_dwi_has_b_values(shared_import) -> None:
    db, _summary, data = shared_import
    with db.session() as session:
        img = session.scalar(
            select(Image).where(Image.path.like(f"{data}/mr/dwi_philips_classic_one_slice/%"))
        )
        series = session.get(Series, img.series_pk)
    assert series.mr_role == "DWI"
    assert 1000 in series.mr_info["b_values"]


def test_reimport_adds_nothing(shared_import) -> None:
    db, _summary, data = shared_import
    with db.session() as session:
        before = session.scalar(select(func.count()).select_from(Image))
    again = import_paths(db, [data / "mg", data / "mr", data / "edge"])
    with db.session() as session:
        after = session.scalar(select(func.count()).select_from(Image))
    assert after == before
    assert again.added == 0 and again.updated == 0
    assert again.unchanged == before


def test_zip_and_copy_of_same_files_add_nothing_twice(
    db, shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / "mr" / "prostate_adc_qin-prostate_ge"
    archive = tmp_path / "adc.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.glob("*.dcm")):
            zf.write(path, f"ADC/{path.name}")
        zf.writestr("README.txt", "not dicom")
    first = import_paths(db, [archive])
    assert first.added == 20 and first.ignored == 1 and not first.skipped
    with db.session() as session:
        member = session.scalar(select(Image.archive_member).limit(1))
    assert member and member.startswith("ADC/")
    # The same images from the folder: already indexed from the zip, counted once.
    second = import_paths(db, [src])
    assert second.added == 0 and second.duplicates == 20
    # And the zip again: unchanged.
    third = import_paths(db, [archive])
    assert third.unchanged == 20


def test_moved_folder_updates_paths(db, shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "mr" / "prostate_adc_qin-prostate_ge"
    old = tmp_path / "old"
    shutil.copytree(src, old)
    import_paths(db, [old])
    new = tmp_path / "new"
    old.rename(new)
    moved = import_paths(db, [new])
    assert moved.added == 0 and moved.updated == 20
    with db.session() as session:
        paths = list(session.scalars(select(Image.path)))
    assert all(p.startswith(str(new)) for p in paths)


def test_dicomdir_and_broken_dicomdir_fallback(db, tmp_path: Path) -> None:
    base = Path(pydicom.__file__).parent / "data" / "test_files" / "dicomdirtests"
    media = tmp_path / "cd"
    shutil.copytree(base, media)
    for extra in media.glob("DICOMDIR*"):
        if extra.name != "DICOMDIR":
            extra.unlink()
    summary = import_paths(db, [media / "DICOMDIR"])
    assert summary.usable_images > 0 and not summary.notes
    via_dicomdir = summary.usable_images
    (media / "DICOMDIR").write_bytes(b"garbage" * 20)
    db2_summary = import_paths(db, [media])
    assert any("DICOMDIR could not be used" in m for _s, m in db2_summary.notes)
    assert db2_summary.usable_images >= via_dicomdir


def test_cancel_stops_and_keeps_what_was_read(db, shared_data: Path) -> None:
    seen: list[int] = []

    def progress(done: int, total: int, _current: str) -> None:
        seen.append(done)

    summary = import_paths(
        db, [shared_data / "mr"], progress=progress, cancel=lambda: len(seen) > 5
    )
    assert summary.cancelled
    with db.session() as session:
        count = session.scalar(select(func.count()).select_from(Image))
    assert 0 < count < 50


def test_parallel_scan_gives_same_result_as_sequential(db, shared_data: Path, tmp_path) -> None:
    from auditdesk.store.db import open_database

    seq = import_paths(db, [shared_data / "mr"], workers=1)
    other = open_database(f"sqlite:///{tmp_path / 'par.sqlite'}")
    par = import_paths(other, [shared_data / "mr"], workers=2)
    assert (seq.added, len(seq.skipped)) == (par.added, len(par.skipped))
    with db.session() as s1, other.session() as s2:
        roles1 = sorted(s1.scalars(select(Series.mr_role)), key=str)
        roles2 = sorted(s2.scalars(select(Series.mr_role)), key=str)
    assert roles1 == roles2
    other.dispose()


def test_scan_of_missing_file_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    result = scan_location(Location(str(tmp_path / "gone.dcm")))
    assert result.record is None and "cannot be opened" in result.reason


def test_non_dicom_and_empty_files_are_reported(db, tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "noise").write_bytes(bytes(range(256)) * 40)
    summary = import_paths(db, [tmp_path])
    reasons = {Path(s.path).name: s.reason for s in summary.skipped}
    assert "empty" in reasons["empty"].lower()
    assert "noise" in reasons
    assert summary.usable_images == 0


def test_override_wins_and_survives_reimport(db, shared_data: Path) -> None:
    mg = shared_data / "mg"
    import_paths(db, [mg])
    with db.transaction() as session:
        ge = session.scalar(select(Image).where(Image.path.like("%GH133%")))
        set_override(
            session, target="image", target_id=ge.id, field_name="view", value="cc",
            reviewer="A. Coach", reason="test",
        )  # fmt: skip
        with pytest.raises(OverrideError, match="not a valid view"):
            set_override(
                session, target="image", target_id=ge.id, field_name="view", value="XYZ",
                reviewer="A. Coach",
            )  # fmt: skip
    import_paths(db, [mg])
    with db.session() as session:
        studies = list_studies(session)
    images = [i for s in studies for se in s.series for i in se.images if "GH133" in i.path]
    assert images[0].view == "CC" and images[0].view_source == "reviewer"
    assert images[0].overridden == ["view"]
    # "auto" (None) returns to the automatic value; the history row stays.
    with db.transaction() as session:
        set_override(
            session, target="image", target_id=images[0].id, field_name="view", value=None,
            reviewer="A. Coach",
        )  # fmt: skip
    with db.session() as session:
        again = [
            i
            for s in list_studies(session)
            for se in s.series
            for i in se.images
            if "GH133" in i.path
        ]
    assert again[0].view == "MLO"


def test_generated_test_set_is_indexed_and_classified(db, test_set) -> None:
    summary = import_paths(db, [test_set.root])
    assert not summary.skipped, summary.skipped
    truth = {f.sop_uid: f for st in test_set.studies for f in st.files}
    with db.session() as session:
        images = list(session.scalars(select(Image)))
        roles = {s.series_uid: s.mr_role for s in session.scalars(select(Series)) if s.mr_role}
    assert len(images) == len(truth)
    for img in images:
        f = truth[img.sop_uid]
        if f.kind == "mammo":
            assert (img.laterality, img.view) == (f.laterality, f.view), f.path
            assert img.is_screening_view == (not f.for_processing and not f.modifier)
    for st in test_set.studies:
        for f in st.files:
            if f.role:
                assert roles[f.series_uid] == f.role, f.path


def test_verify_reports_corrupt_codestreams_at_import(db, shared_data: Path) -> None:
    bad = [
        shared_data / "edge" / "JPEG2000-embedded-sequence-delimiter.dcm",
        shared_data / "mg" / "WG04_MG1_JPLY.dcm",
    ]
    plain = import_paths(db, bad)
    assert plain.added == 2  # the headers are fine; only decoding shows the damage
    from auditdesk.store.db import open_database

    other = open_database(f"sqlite:///{Path(db.url.removeprefix('sqlite:///')).parent / 'v.db'}")
    checked = import_paths(other, bad, verify=True)
    other.dispose()
    assert checked.added == 0
    reasons = {Path(s.path).name: s.reason for s in checked.skipped}
    assert set(reasons) == {p.name for p in bad}
    for reason in reasons.values():
        assert "\n" not in reason and len(reason) < 600


def test_unknown_transfer_syntax_is_refused_at_import(
    db, shared_data: Path, tmp_path: Path
) -> None:
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(shared_data / "mr" / "misc" / "MR_small.dcm")
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no codec installed
    ds.PixelData = encapsulate([b"\x00" * 64 + b"\xff" * 64])
    target = tmp_path / "mpeg.dcm"
    ds.save_as(target, enforce_file_format=True)
    summary = import_paths(db, [target])
    assert summary.usable_images == 0
    assert "no installed codec supports it" in summary.skipped[0].reason
