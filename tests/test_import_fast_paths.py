"""The import's fast paths give exactly what the plain pydicom paths give.

Import speed comes from reading tags straight from the dataset's dict, converting each distinct
raw value once per import (dicom.tag_access) and writing new images in one bulk INSERT per batch
(dicom.index_writer). The reference here is pydicom's own ``ds.get``/``ds[tag]`` lookups with no
conversion cache (``tag_access.FAST_LOOKUPS = False``): every record (all fields, MR facts,
b-values, views) and every refusal reason must be the same, over every real file in shared/data
and a generated corpus of all four MR vendor conventions plus mammograms. The database rows an
import writes must hold exactly the reference records' values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from auditdesk.demo.generator import generate_index_corpus
from auditdesk.dicom import tag_access
from auditdesk.dicom.index import import_paths
from auditdesk.dicom.index_writer import IMAGE_FIELDS
from auditdesk.dicom.scan import ScanResult, scan_location
from auditdesk.dicom.sources import enumerate_sources
from auditdesk.store.models import Image, Series, Study


def _reference(locations, monkeypatch: pytest.MonkeyPatch) -> list[ScanResult]:
    with monkeypatch.context() as m:
        m.setattr(tag_access, "FAST_LOOKUPS", False)
        return [scan_location(loc) for loc in locations]


def _fast(locations) -> list[ScanResult]:
    with tag_access.conversion_cache():  # one cache across all files, as in an import
        return [scan_location(loc) for loc in locations]


def _assert_same(locations, monkeypatch: pytest.MonkeyPatch) -> list[ScanResult]:
    reference = _reference(locations, monkeypatch)
    fast = _fast(locations)
    for ref, got in zip(reference, fast, strict=True):
        where = ref.location.display()
        assert got.reason == ref.reason, where
        assert got.record == ref.record, where
    return reference


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    generate_index_corpus(root, 420)
    return root


def test_real_files_give_the_same_records_and_reasons(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locations = enumerate_sources([str(shared_data)]).locations
    reference = _assert_same(locations, monkeypatch)
    # The comparison must cover real MR with b-values, mammograms and refused files.
    records = [r.record for r in reference if r.record]
    assert any(r["kind"] == "mammo" for r in records)
    assert any(r["kind"] == "mr" and r["mr_info"]["b_values"] for r in records)
    assert any(r.reason for r in reference)


def test_generated_vendor_series_give_the_same_records(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locations = enumerate_sources([str(corpus)]).locations
    reference = _assert_same(locations, monkeypatch)
    sources = {r.record["mr_info"]["b_value_source"] for r in reference if "mr_info" in r.record}
    assert len(sources - {None}) >= 3  # several vendors' b-value conventions were exercised


def test_cache_does_not_leak_values_between_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two elements with the same raw bytes under different tags keep their own VR/value."""
    from pydicom.dataelem import RawDataElement
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds._read_charset = "iso8859"
    raw = b"12\\34 "
    ds._dict[0x00180050] = RawDataElement(0x00180050, "DS", len(raw), raw, 0, False, True)
    ds._dict[0x00200013] = RawDataElement(0x00200013, "IS", len(raw), raw, 0, False, True)
    odd = Dataset()  # the same tag and bytes written with another VR by another file
    odd._read_charset = "iso8859"
    odd._dict[0x00200013] = RawDataElement(0x00200013, "LO", len(raw), raw, 0, False, True)
    with tag_access.conversion_cache():
        thickness = tag_access.get_value(ds, "SliceThickness")
        number = tag_access.get_value(ds, "InstanceNumber")
        odd_number = tag_access.get_value(odd, "InstanceNumber")
    assert [float(v) for v in thickness] == [12.0, 34.0]
    assert type(number[0]).__name__ == "IS" and type(thickness[0]).__name__ != "IS"
    assert list(odd_number) == ["12", "34"] and odd["InstanceNumber"].VR == "LO"


def test_bulk_written_rows_hold_the_reference_records(
    db, corpus: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = [str(corpus), str(shared_data / "mr"), str(shared_data / "mg")]
    locations = enumerate_sources(sources).locations
    expected: dict[str, tuple[ScanResult, dict]] = {}
    for res in _reference(locations, monkeypatch):
        if res.record:  # the first copy of an image is the one indexed
            expected.setdefault(res.record["sop_uid"], (res, res.record))
    summary = import_paths(db, sources, workers=1)
    assert summary.added == len(expected)
    with db.session() as session:
        rows = session.execute(
            select(Image, Series.series_uid, Study.study_uid)
            .join(Series, Image.series_pk == Series.id)
            .join(Study, Series.study_pk == Study.id)
        ).all()
        assert len(rows) == summary.added
        for image, series_uid, study_uid in rows:
            res, rec = expected[image.sop_uid]
            assert (series_uid, study_uid) == (rec["series_uid"], rec["study_uid"])
            for key in IMAGE_FIELDS:
                assert getattr(image, key) == rec.get(key), (key, image.path)
            assert image.acquisition_datetime == rec["procedure_datetime"]
            assert image.is_tomosynthesis is bool(rec.get("is_tomosynthesis"))
            assert image.lossy is bool(rec.get("lossy"))
            if res.location.path == image.path:
                assert (image.file_size, image.file_mtime_ns) == (res.size, res.stamp)


def test_folder_walk_resolves_like_resolving_every_file(tmp_path: Path, shared_data: Path) -> None:
    """The folder is resolved once per directory; symlinked files still resolve to their target."""
    import os

    from auditdesk.dicom import sources

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.dcm").write_bytes(b"x")
    os.symlink(tmp_path / "d" / "a.dcm", tmp_path / "d" / "b.dcm")  # counts once
    os.symlink(tmp_path / "nowhere.dcm", tmp_path / "d" / "broken.dcm")
    os.symlink(shared_data, tmp_path / "data")  # a linked folder given as the root
    for root in (tmp_path / "d", tmp_path / "data"):
        expected = set()
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            kept = [n for n in filenames if not sources._ignored(n)]  # README, .DS_Store...
            expected |= {str(Path(dirpath, n).resolve()) for n in kept}
        got = [loc.path for loc in enumerate_sources([str(root)]).locations]
        assert got == sorted(expected)
    assert got[0].startswith(str(shared_data.resolve()))


def _raw_dataset(elements: list[tuple[int, str, bytes]]) -> object:
    from pydicom.dataelem import RawDataElement
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds._read_charset = "iso8859"
    for tag, vr, raw in elements:
        ds._dict[tag] = RawDataElement(tag, vr, len(raw), raw, 0, False, True)
    return ds


def test_remembered_values_are_the_values_pydicom_converts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value seen before in the import is handed out without building an element; it must be
    what pydicom's own ``ds[tag].value`` gives for the same bytes (type included)."""
    import struct

    elements = [
        (0x00080008, "CS", b"ORIGINAL\\PRIMARY\\M\\ND "),  # ImageType, multi-valued
        (0x00080070, "LO", b"SIEMENS "),  # Manufacturer
        (0x00081070, "PN", b"Smith^Jane"),  # OperatorsName
        (0x00080020, "DA", b"20240131"),  # StudyDate
        (0x00180050, "DS", b"3.5 "),  # SliceThickness
        (0x00200032, "DS", b"-10\\20.5\\3 "),  # ImagePositionPatient
        (0x00200013, "IS", b"7 "),  # InstanceNumber
        (0x00280010, "US", struct.pack("<H", 512)),  # Rows
        (0x00189087, "FD", struct.pack("<d", 800.0)),  # DiffusionBValue
        (0x0020000E, "UI", b"1.2.3.4\x00"),  # SeriesInstanceUID
    ]
    keywords = [
        "ImageType",
        "Manufacturer",
        "OperatorsName",
        "StudyDate",
        "SliceThickness",
        "ImagePositionPatient",
        "InstanceNumber",
        "Rows",
        "DiffusionBValue",
        "SeriesInstanceUID",
    ]
    oracle = _raw_dataset(elements)
    expected = [oracle[k].value for k in keywords]  # pydicom's own conversion
    with tag_access.conversion_cache():
        first = _raw_dataset(elements)
        for k in keywords:
            tag_access.get_value(first, k)  # converts and remembers
        second = _raw_dataset(elements)  # same bytes in the next file
        got = [tag_access.get_value(second, k) for k in keywords]
    assert [type(v) for v in got] == [type(v) for v in expected]
    assert got == expected
    # The dataset itself still converts as pydicom would afterwards.
    assert [second[k].value for k in keywords] == expected


def test_mr_facts_json_keeps_every_value() -> None:
    """to_dict: tuples become lists, non-finite floats None, the rest unchanged; from_dict
    gives the tuples back (values written out by hand, not from the code under test)."""
    from auditdesk.dicom.classify import MRImageInfo

    info = MRImageInfo(
        b_values=(0.0, 800.0),
        b_value_source="standard",
        image_type=("ORIGINAL", "PRIMARY"),
        repetition_time_ms=float("nan"),
        echo_time_ms=float("inf"),
        flip_angle=90.0,
        n_frames=3,
        instance_number=None,
        frame_slice_positions=(1.5, float("nan")),
        acquisition_matrix=(0, 256, 256, 0),
    )
    d = info.to_dict()
    assert d["b_values"] == [0.0, 800.0] and d["image_type"] == ["ORIGINAL", "PRIMARY"]
    assert d["repetition_time_ms"] is None and d["echo_time_ms"] is None
    assert d["flip_angle"] == 90.0 and d["n_frames"] == 3 and d["instance_number"] is None
    assert d["b_value_source"] == "standard"
    assert d["frame_slice_positions"] == [1.5, None]
    assert d["acquisition_matrix"] == [0, 256, 256, 0]
    assert d["frame_types"] == [] and d["mosaic_slices"] is None
    back = MRImageInfo.from_dict({**d, "not_a_field": 1})
    assert back.b_values == (0.0, 800.0) and back.frame_slice_positions == (1.5, None)
    assert back.acquisition_matrix == (0, 256, 256, 0) and back.repetition_time_ms is None
    assert back == MRImageInfo.from_dict(back.to_dict())


def _mr_state(db) -> tuple[dict, dict]:
    with db.session() as session:
        series = {
            uid: (role, info)
            for uid, role, info in session.execute(
                select(Series.series_uid, Series.mr_role, Series.mr_info).where(
                    Series.modality == "MR"
                )
            )
        }
        orders = dict(session.execute(select(Image.sop_uid, Image.slice_order)).all())
    return series, orders


def test_series_classified_during_the_import_end_as_if_classified_at_the_end(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An MR series is classified once a batch passes without adding to it, and again if it
    gains images later: the final roles, facts and slice orders must be those of one pass over
    complete series (the import with a single batch, classified only at the end)."""
    import shutil

    import pydicom

    from auditdesk.dicom import index
    from auditdesk.store.db import open_database

    by_series: dict[str, list[Path]] = {}
    for path in sorted(corpus.rglob("*")):
        if path.is_file():
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            if ds.get("Modality") == "MR":
                by_series.setdefault(ds.SeriesInstanceUID, []).append(path)
    first, second = [files for files in by_series.values() if len(files) >= 6][:2]
    # Interleave two series in pairs (sorted names): with batches of 2, series A is written in
    # batches 1, 3, 5 and B in 2, 4, 6, so each is classified from a part of its images first.
    folder = tmp_path / "interleaved"
    folder.mkdir()
    n = 0
    for i in range(0, 6, 2):
        for files in (first, second):
            for path in files[i : i + 2]:
                n += 1
                shutil.copy(path, folder / f"{n:03d}.dcm")
    for path in first[6:] + second[6:]:
        n += 1
        shutil.copy(path, folder / f"{n:03d}.dcm")

    monkeypatch.setattr(index, "BATCH_SIZE", 2)
    small = open_database(f"sqlite:///{tmp_path / 'small.sqlite'}")
    assert index.import_paths(small, [folder], workers=1).added == n
    monkeypatch.setattr(index, "BATCH_SIZE", 10_000)
    whole = open_database(f"sqlite:///{tmp_path / 'whole.sqlite'}")
    assert index.import_paths(whole, [folder], workers=1).added == n

    series_small, orders_small = _mr_state(small)
    series_whole, orders_whole = _mr_state(whole)
    assert len(series_whole) == 2 and all(role for role, _ in series_whole.values())
    assert series_small == series_whole
    assert orders_small == orders_whole
    assert sorted(orders_whole.values()) == sorted(
        list(range(len(first))) + list(range(len(second)))
    )
