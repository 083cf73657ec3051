"""Import from PACS against a real Orthanc (issue 19): query and retrieve over DIMSE (C-GET and
C-MOVE) and DICOMweb, and the failures a site meets (wrong AE title, PACS stopped mid-transfer,
no answer). Expected values come from the generated test set's manifest and from a direct
``import`` of the same files, never from the code under test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from tests.orthanc_server import ORTHANC_AET, OUR_AET, OrthancServer, running_orthanc

from auditdesk.cli import main
from auditdesk.exchange.pacs.nodes import NodeConfig, PacsError, get_node
from auditdesk.exchange.pacs.query import StudyQuery, query_studies
from auditdesk.exchange.pacs.retrieve import INCOMING, pacs_dir, retrieve_studies
from auditdesk.store.catalog import list_studies
from auditdesk.store.db import Database, open_database


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------------------
# without a PACS: node settings
# --------------------------------------------------------------------------------------------


def test_nodes_are_validated_stored_listed_and_removed(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    url = db.url
    code, out, _ = run(
        capsys, "--db", url, "pacs", "add", "main", "--aet", "PACS1", "--host", "pacs.local",
        "--port", "104", "--our-aet", "AUDIT1",
    )  # fmt: skip
    assert code == 0 and "main: DIMSE PACS1@pacs.local:104 as AUDIT1, C-GET" in out
    code, _, err = run(capsys, "--db", url, "pacs", "add", "bad", "--aet", "A", "--host", "h",
                       "--port", "70000")  # fmt: skip
    assert code == 2 and "PACS port 70000 is not valid: 1-65535." in err
    code, _, err = run(capsys, "--db", url, "pacs", "add", "mv", "--aet", "A", "--host", "h",
                       "--port", "104", "--move")  # fmt: skip
    assert code == 2 and "C-MOVE needs our own storage port" in err
    code, _, err = run(capsys, "--db", url, "pacs", "add", "web", "--dicomweb", "ftp://x")
    assert code == 2 and "DICOMweb URL 'ftp://x' is not valid" in err
    code, _, err = run(capsys, "--db", url, "pacs", "add", "main", "--dicomweb", "http://x/dw")
    assert code == 2 and "exists already" in err
    code, out, _ = run(capsys, "--db", url, "pacs", "list", "--json")
    assert [(n["name"], n["aet"], n["port"], n["retrieve"]) for n in json.loads(out)] == [
        ("main", "PACS1", 104, "get")
    ]
    assert run(capsys, "--db", url, "pacs", "remove", "main")[0] == 0
    code, _, err = run(capsys, "--db", url, "pacs", "echo", "main")
    assert code == 1 and "No PACS node named 'main'" in err


def test_query_refuses_an_empty_date_range() -> None:
    import datetime as dt

    q = StudyQuery(date_from=dt.date(2026, 3, 7), date_to=dt.date(2026, 3, 1))
    with pytest.raises(PacsError, match="start must not be after the end"):
        q.date_range()
    # DICOM range matching (PS3.4 C.2.2.2.5): open ends are written as '-YYYYMMDD'/'YYYYMMDD-'.
    assert StudyQuery(date_to=dt.date(2026, 3, 7)).date_range() == "-20260307"
    assert StudyQuery(date_from=dt.date(2026, 3, 1)).date_range() == "20260301-"


def test_sample_from_a_pacs_query_is_the_seeded_draw_of_the_sampling_dialog() -> None:
    """Overall mode: candidates in (date, UID) order, random.Random(seed).sample(candidates, n),
    kept in candidate order (auditdesk.qi.sampling's rule), computed here with random directly.
    Per technologist: at most n per Operators' Name, spelling variants grouped together."""
    import datetime as dt
    import random

    from auditdesk.exchange.pacs.query import StudyMatch
    from auditdesk.exchange.pacs.sample import draw_from_matches

    day = dt.date(2026, 3, 2)
    matches = [
        StudyMatch(study_uid=f"1.2.{i}", date=day + dt.timedelta(days=i % 3), operators=[op])
        for i, op in enumerate(["SMITH^JANE", "Smith, Jane", "DOE^ALEX", "SMITH^JANE", "DOE^ALEX"])
    ]
    candidates = sorted(matches, key=lambda m: (m.date, m.study_uid))
    expected = random.Random(42).sample(candidates, 2)
    expected.sort(key=candidates.index)
    assert draw_from_matches(matches, n=2, mode="overall", seed=42) == (42, expected)

    seed, picked = draw_from_matches(matches, n=1, mode="per_technologist")
    assert 0 <= seed < 2**31
    assert sorted(m.operators[0].split("^")[0].split(",")[0].upper() for m in picked) == [
        "DOE",
        "SMITH",
    ]
    assert draw_from_matches(matches, n=1, seed=seed) == (seed, picked)  # the seed reproduces it
    with pytest.raises(PacsError, match="at least 1"):
        draw_from_matches(matches, n=0)


# --------------------------------------------------------------------------------------------
# against a real Orthanc
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory, test_set) -> Iterator[OrthancServer]:
    files = [f.path for s in test_set.studies for f in s.files]
    yield from running_orthanc(tmp_path_factory.mktemp("orthanc"), files)


def _mg(test_set) -> list:
    return [s for s in test_set.studies if s.kind == "mammo"]


def _add_nodes(url: str, server: OrthancServer, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--host", "127.0.0.1", "--port", str(server.dicom_port), "--our-aet", OUR_AET]
    assert run(capsys, "--db", url, "pacs", "add", "orthanc", "--aet", ORTHANC_AET, *common)[0] == 0
    assert run(capsys, "--db", url, "pacs", "add", "move", "--aet", ORTHANC_AET, *common,
               "--our-port", str(server.our_port), "--move")[0] == 0  # fmt: skip
    assert run(capsys, "--db", url, "pacs", "add", "web", "--dicomweb",
               f"{server.http}/dicom-web")[0] == 0  # fmt: skip
    assert run(capsys, "--db", url, "pacs", "add", "wrong", "--aet", "NOTORTHANC", *common,
               "--timeout", "5")[0] == 0  # fmt: skip


@pytest.fixture
def nodes(db: Database, orthanc: OrthancServer, capsys: pytest.CaptureFixture[str]) -> Database:
    _add_nodes(db.url, orthanc, capsys)
    return db


def _views(db: Database) -> dict[str, tuple]:
    """Per study UID: screening views, every image's label and the image count."""
    with db.session() as s:
        return {
            st.study_uid: (
                tuple(st.views),
                tuple(sorted(img.label for se in st.series for img in se.images)),
                st.n_images,
                st.technologist,
            )
            for st in list_studies(s)
        }


def test_echo_query_json_lists_every_mg_study_without_phi(
    nodes: Database, test_set, phi_values, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--db", nodes.url, "pacs", "echo", "orthanc")
    assert code == 0 and "answered in" in out
    assert run(capsys, "--db", nodes.url, "pacs", "echo", "web")[0] == 0

    code, out, _ = run(capsys, "--db", nodes.url, "pacs", "query", "orthanc", "--modality", "MG",
                       "--json")  # fmt: skip
    assert code == 0
    listed = json.loads(out)
    mg = _mg(test_set)
    assert len(listed) == len(mg) == 2
    assert all(set(row) == {"key", "date", "modalities", "description", "images"} for row in listed)
    assert all(row["key"].startswith("EX-") for row in listed)
    assert sorted(row["date"] for row in listed) == sorted(s.procedure_date.isoformat() for s in mg)
    assert sorted(row["images"] for row in listed) == sorted(len(s.files) for s in mg)
    assert all(row["modalities"] == ["MG"] for row in listed)
    leaked = [v for v in phi_values if v and v in out]
    assert leaked == []

    code, out, _ = run(capsys, "--db", nodes.url, "pacs", "query", "orthanc", "--modality", "MG",
                       "--json", "--phi")  # fmt: skip
    with_phi = json.loads(out)
    assert {r["study_uid"] for r in with_phi} == {s.study_uid for s in mg}
    assert {r["patient_id"] for r in with_phi} == {s.patient_id for s in mg}

    # A date filter: only the study of 2026-03-07 (the JPEG 2000 one) is in 03-05..03-08.
    code, out, _ = run(capsys, "--db", nodes.url, "pacs", "query", "orthanc", "--from",
                       "2026-03-05", "--to", "2026-03-08", "--json", "--phi")  # fmt: skip
    assert [r["study_uid"] for r in json.loads(out)] == [
        s.study_uid for s in mg if s.procedure_date.isoformat() == "2026-03-07"
    ]

    # The DICOMweb node finds the same studies (QIDO-RS), with the same keys.
    code, out, _ = run(capsys, "--db", nodes.url, "pacs", "query", "web", "--modality", "MG",
                       "--json")  # fmt: skip
    assert code == 0
    assert sorted(json.dumps(r, sort_keys=True) for r in json.loads(out)) == sorted(
        json.dumps(r, sort_keys=True) for r in listed
    )


def _direct_import(test_set, tmp_path: Path) -> dict[str, tuple]:
    from auditdesk.dicom.index import import_paths

    direct = open_database(f"sqlite:///{tmp_path / 'direct.sqlite'}")
    try:
        import_paths(direct, [f.path for s in _mg(test_set) for f in s.files])
        return _views(direct)
    finally:
        direct.dispose()


def _transfer_syntaxes(folder: Path) -> set[str]:
    return {
        str(pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID)
        for p in folder.rglob("*.dcm")
    }


def test_cget_retrieve_brings_every_mg_image_with_the_views_of_a_direct_import(
    nodes: Database, test_set, phi_values, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--db", nodes.url, "pacs", "retrieve", "orthanc", "--modality",
                         "MG", "--progress")  # fmt: skip
    assert code == 0, err
    assert [v for v in phi_values if v and (v in out or v in err)] == []
    # No UID in the names of what we wrote either (folders and files are keys).
    names = " ".join(str(p.relative_to(pacs_dir())) for p in pacs_dir().rglob("*"))
    assert [v for v in phi_values if v and v in names] == []
    mg = _mg(test_set)
    n_files = sum(len(s.files) for s in mg)
    assert out.count("indexed") == 2 and "FAILED" not in out
    assert len(list(pacs_dir().rglob("*.dcm"))) == n_files
    assert not (pacs_dir() / INCOMING).exists() or not any((pacs_dir() / INCOMING).iterdir())
    assert _views(nodes) == _direct_import(test_set, tmp_path)
    # The JPEG 2000 mammogram arrives as JPEG 2000 (one transfer syntax per context).
    originals = {
        str(pydicom.dcmread(f.path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
        for s in mg
        for f in s.files
    }
    assert "1.2.840.10008.1.2.4.90" in originals
    assert _transfer_syntaxes(pacs_dir()) == originals
    # Run again: nothing is fetched twice.
    code, out, _ = run(capsys, "--db", nodes.url, "pacs", "retrieve", "orthanc", "--modality",
                       "MG", "--json")  # fmt: skip
    outcome = json.loads(out)
    assert (outcome["images_received"], outcome["images_already_here"]) == (0, n_files)


def test_retrieve_a_seeded_sample_fetches_only_the_sampled_study(
    nodes: Database, test_set, capsys: pytest.CaptureFixture[str]
) -> None:
    import random

    code, out, _ = run(capsys, "--db", nodes.url, "pacs", "query", "orthanc", "--modality", "MG",
                       "--json", "--phi")  # fmt: skip
    # Candidates in (date, UID) order; random.Random(seed).sample picks the one to fetch.
    candidates = sorted(json.loads(out), key=lambda r: (r["date"], r["study_uid"]))
    expected = random.Random(11).sample(candidates, 1)[0]
    code, out, err = run(capsys, "--db", nodes.url, "pacs", "retrieve", "orthanc", "--modality",
                         "MG", "--sample", "1", "--overall", "--seed", "11", "--json")  # fmt: skip
    assert code == 0 and "Sampled 1 studies (overall, seed 11)." in err
    assert [s["key"] for s in json.loads(out)["studies"]] == [expected["key"]]
    with nodes.session() as s:
        assert [st.study_uid for st in list_studies(s)] == [expected["study_uid"]]


@pytest.mark.parametrize("node", ["move", "web"])
def test_cmove_and_wado_rs_retrieve_give_the_same_exams(
    node: str, nodes: Database, test_set, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--db", nodes.url, "pacs", "retrieve", node, "--modality", "MG")
    assert code == 0, err + out
    assert _views(nodes) == _direct_import(test_set, tmp_path)
    assert len(list(pacs_dir().rglob("*.dcm"))) == sum(len(s.files) for s in _mg(test_set))
    assert "1.2.840.10008.1.2.4.90" in _transfer_syntaxes(pacs_dir())  # J2K kept as stored


def _mg_matches(db: Database, name: str) -> tuple[NodeConfig, list]:
    with db.session() as s:
        node = get_node(s, name)
    return node, query_studies(node, StudyQuery(modality="MG"))


def test_wrong_called_ae_title_is_refused_with_one_clear_message(
    nodes: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    for action in ("echo", "query", "retrieve"):
        code, _out, err = run(capsys, "--db", nodes.url, "pacs", action, "wrong")
        assert code == 1
        assert err.strip().splitlines() == [
            f"auditdesk pacs: PACS NOTORTHANC@127.0.0.1:{_port(nodes)} refused the association: "
            "check the PACS AE title ('NOTORTHANC') and that the PACS knows our AE title "
            "('AUDITDESK')."
        ]
    with nodes.session() as s:
        assert list_studies(s) == []


def _port(db: Database) -> int:
    with db.session() as s:
        return int(get_node(s, "orthanc").port or 0)


def test_a_pacs_that_does_not_answer_times_out_with_one_clear_message(
    nodes: Database, orthanc: OrthancServer, capsys: pytest.CaptureFixture[str]
) -> None:
    node, matches = _mg_matches(nodes, "orthanc")
    with nodes.transaction() as s:
        from dataclasses import replace

        from auditdesk.exchange.pacs.nodes import save_node

        save_node(s, replace(node, name="slow", timeout_s=1.0))
        web = get_node(s, "web")
        save_node(s, replace(web, name="slowweb", timeout_s=1.0))
    orthanc.pause()
    try:
        code, _, err = run(capsys, "--db", nodes.url, "pacs", "echo", "slow")
        assert code == 1
        assert "did not answer within 1 s (is it running and is the port right?)" in err
        code, _, err = run(capsys, "--db", nodes.url, "pacs", "query", "slowweb")
        assert code == 1 and "did not answer the study query within 1 s" in err
    finally:
        orthanc.resume()

    # The PACS freezes after the first image of a retrieve: each study fails with one
    # sentence naming the timeout, and nothing is indexed.
    with nodes.session() as s:
        slow = get_node(s, "slow")

    def freeze_after_first(done: int, _t: int, _k: str) -> None:
        if done == 1:
            orthanc.pause()

    try:
        result = retrieve_studies(nodes, slow, matches, progress=freeze_after_first)
    finally:
        orthanc.resume()
    assert [s.error is not None for s in result.studies] == [True, True]
    assert result.studies[0].error == (
        f"PACS {slow.address} stopped answering during the transfer "
        "(connection lost or no answer within 1 s)."
    )
    assert result.studies[1].error == (
        f"PACS {slow.address} did not answer within 1 s (is it running and is the port right?)."
    )
    with nodes.session() as s:
        assert list_studies(s) == []


def test_cancel_and_pacs_stopped_mid_transfer_leave_nothing_half_indexed_and_resume(
    nodes: Database, orthanc: OrthancServer, test_set
) -> None:
    node, matches = _mg_matches(nodes, "orthanc")
    total = sum(m.n_images for m in matches)

    # Cancel after the first image: nothing indexed, the image waits in .incoming.
    seen: list[int] = []
    result = retrieve_studies(
        nodes, node, matches, progress=lambda d, t, k: seen.append(d), cancel=lambda: len(seen) > 1
    )
    assert result.cancelled and result.imported is None
    with nodes.session() as s:
        assert list_studies(s) == []
    assert len(list((pacs_dir() / INCOMING).rglob("*.dcm"))) == 1

    # The PACS dies after two more images: that study fails with one sentence, none indexed.
    def kill_after_two(done: int, _t: int, _k: str) -> None:
        if done == 3:
            orthanc.kill()

    try:
        result = retrieve_studies(nodes, node, matches, progress=kill_after_two)
        assert [s.error is not None for s in result.studies] == [True, True]
        first = result.studies[0].error or ""
        assert first.startswith(f"PACS {node.address} stopped answering during the transfer")
        with nodes.session() as s:
            assert list_studies(s) == []
        assert len(list((pacs_dir() / INCOMING).rglob("*.dcm"))) == 3
        assert not list(pacs_dir().glob("EX-*"))
    finally:
        orthanc.start()

    # Back up: the rest is fetched (the three images are not asked for again) and indexed.
    result = retrieve_studies(nodes, node, matches)
    assert [s.error for s in result.studies] == [None, None]
    assert sum(s.already for s in result.studies) == 3
    assert sum(s.received for s in result.studies) == total - 3
    with nodes.session() as s:
        assert sorted(st.n_images for st in list_studies(s)) == sorted(
            len(st.files) for st in _mg(test_set)
        )


def test_retrieve_by_exam_key_fetches_that_study_and_an_unknown_key_is_named(
    nodes: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--db", nodes.url, "pacs", "query", "orthanc", "--modality", "MG",
                       "--json", "--phi")  # fmt: skip
    first = json.loads(out)[0]
    code, out, err = run(capsys, "--db", nodes.url, "pacs", "retrieve", "orthanc", "--study",
                         "EX-NOTAKEY00")  # fmt: skip
    assert code == 1
    assert "EX-NOTAKEY00 not found on orthanc with these filters" in err
    code, out, err = run(capsys, "--db", nodes.url, "pacs", "retrieve", "orthanc", "--study",
                         first["key"])  # fmt: skip
    assert code == 0, err
    assert out.startswith(f"{first['key']}: {first['images']} images ({first['images']} fetched")
    with nodes.session() as s:
        assert [st.study_uid for st in list_studies(s)] == [first["study_uid"]]
