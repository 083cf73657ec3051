"""The auditdesk command as a script would use it: exit codes, JSON fields, no PHI by default."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditdesk import __version__
from auditdesk.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_import_summary_lists_skipped_files_with_reasons(
    capsys: pytest.CaptureFixture[str], shared_data: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    code, out, _ = run(capsys, "--db", url, "import", str(shared_data / "edge"))
    assert code == 0
    assert "Skipped" in out
    assert "MR_truncated.dcm: Pixel data is truncated" in out
    assert out.splitlines()[0].startswith("Indexed ")


def test_import_of_nothing_usable_exits_non_zero(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "junk.dcm").write_bytes(b"\x00" * 300)
    code, out, _ = run(
        capsys, "--db", f"sqlite:///{tmp_path / 'x.sqlite'}", "import", str(tmp_path)
    )
    assert code == 1
    assert "junk.dcm" in out


def test_import_json_and_studies_json_fields(
    capsys: pytest.CaptureFixture[str], shared_data: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    code, out, _ = run(capsys, "--db", url, "import", "--json", str(shared_data / "mg"))
    summary = json.loads(out)
    assert code == 0
    assert {"studies", "series", "images_added", "skipped", "files_seen"} <= set(summary)
    assert summary["skipped"][0]["reason"]

    code, out, _ = run(capsys, "--db", url, "studies", "--json")
    studies = json.loads(out)
    assert code == 0 and studies
    ge = next(s for s in studies if s["technologist"] == "xxx")
    assert ge["kind"] == "mammo" and ge["views"] == ["RMLO"]
    image = ge["series"][0]["images"][0]
    assert {"view", "laterality", "view_source", "is_screening_view", "id"} <= set(image)
    # No patient identifiers or UIDs unless asked for.
    assert "patient_id" not in ge and "study_uid" not in ge and "sop_uid" not in image
    assert "path" not in image
    # No value that identifies a patient or an object appears anywhere in the output.
    import pydicom

    for path in (shared_data / "mg").glob("*.dcm"):
        hdr = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        for keyword in ("PatientName", "PatientID", "AccessionNumber", "PatientBirthDate",
                        "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):  # fmt: skip
            value = str(hdr.get(keyword, "") or "").strip()
            if len(value) > 3:
                assert value not in out, keyword
    assert str(shared_data) not in out

    code, out, _ = run(capsys, "--db", url, "studies", "--json", "--phi")
    assert "study_uid" in json.loads(out)[0]


def test_studies_text_listing_and_override(
    capsys: pytest.CaptureFixture[str], shared_data: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'o.sqlite'}"
    run(capsys, "--db", url, "import", str(shared_data / "mr" / "prostate_adc_qin-prostate_ge"))
    code, out, _ = run(capsys, "--db", url, "studies")
    assert code == 0 and "ADC" in out
    series_id = json.loads(run(capsys, "--db", url, "studies", "--json")[1])[0]["series"][0]["id"]
    code, out, err = run(
        capsys, "--db", url, "override", "series", str(series_id), "--role", "dwi",
        "--reviewer", "QA Coach", "--reason", "test",
    )  # fmt: skip
    assert code == 0, err
    studies = json.loads(run(capsys, "--db", url, "studies", "--json")[1])
    assert studies[0]["series"][0]["role"] == "DWI"
    assert studies[0]["series"][0]["overridden"] == ["role"]
    code, _out, err = run(
        capsys, "--db", url, "override", "series", str(series_id), "--role", "XX",
        "--reviewer", "QA Coach",
    )  # fmt: skip
    assert code == 2 and "not a valid role" in err


def test_render_png(capsys: pytest.CaptureFixture[str], shared_data: Path, tmp_path: Path) -> None:
    from PIL import Image

    out_png = tmp_path / "ge.png"
    src = shared_data / "mg" / "GH133_GE_SenographeEssential_R_MLO.dcm"
    code, _out, err = run(capsys, "render", str(src), "-o", str(out_png), "--max-size", "512")
    assert code == 0, err
    with Image.open(out_png) as img:
        assert max(img.size) == 512


def test_render_bad_file_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / "edge" / "MR_truncated.dcm"
    code, _out, err = run(capsys, "render", str(src), "-o", str(tmp_path / "x.png"))
    assert code == 2
    assert err.count("\n") == 1 and "truncated" in err.lower()


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditdesk",
            "--db",
            f"sqlite:///{tmp_path / 's.sqlite'}",
            "studies",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "No studies indexed yet" in result.stdout


def test_demo_regenerates_cleanly_after_an_interrupted_run(monkeypatch, tmp_path: Path) -> None:
    import auditdesk.demo.generator as gen
    from auditdesk.cli import prepare_demo
    from auditdesk.paths import demo_dir

    calls: list[Path] = []

    def fake_generate(folder: Path, **_kwargs) -> None:
        calls.append(folder)
        assert not folder.exists() or not any(folder.iterdir()), "stale files left behind"
        gen.generate_test_set(folder)

    monkeypatch.setattr(gen, "generate_demo", fake_generate)
    stale = demo_dir() / "half-written"
    stale.mkdir(parents=True)
    (stale / "1.dcm").write_bytes(b"partial")
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    prepare_demo(url, quiet=True)
    assert len(calls) == 1 and not stale.exists()
    prepare_demo(url, quiet=True)  # manifest present: not generated again
    assert len(calls) == 1
