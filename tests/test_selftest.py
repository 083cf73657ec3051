"""``auditdesk --selftest`` in the source install, its failure lines, and portable mode.

The bundle's own self-test runs in CI after installer/build (under ``env -i``); these tests
check that every check can pass and can fail.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from auditdesk import paths
from auditdesk.cli import main
from auditdesk.runtime import selftest

# What each shipped file's name promises, from pydicom's UID constants (not from our table).
EXPECTED_TS = {
    "raw": ExplicitVRLittleEndian,
    "j2k": JPEG2000Lossless,
    "jpegll": JPEGLosslessSV1,
    "jpegls": JPEGLSLossless,
    "rle": RLELossless,
}


@pytest.mark.gui
def test_selftest_passes_in_the_source_install(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--selftest"])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert stop.value.code == 0, out
    names = [line.split(":", 1)[0].split(None, 1)[1] for line in lines]
    assert names == [
        "Qt starts",
        "data folder writable",
        "decode uncompressed (Explicit VR Little Endian)",
        "decode JPEG 2000 lossless",
        "decode JPEG lossless (process 14 SV1)",
        "decode JPEG-LS lossless",
        "decode RLE lossless",
        "decode in a worker process",
        "database migrates",
        "checklists load",
        "PDF report renders",
    ]
    assert all(line.startswith("PASS") for line in lines)
    assert out.rstrip().endswith("selftest: all checks passed")
    assert "platform plug-ins:" in lines[0] and "xcb" in lines[0] and "offscreen" in lines[0]


@pytest.mark.gui
def test_help_menu_runs_the_selftest_in_the_window(qtbot, monkeypatch):
    from PySide6.QtWidgets import QDialog, QLabel, QMainWindow, QPlainTextEdit

    from auditdesk.ui.common.selftest_qt import add_selftest_action

    window = QMainWindow()
    qtbot.addWidget(window)
    help_menu = window.menuBar().addMenu("&Help")
    help_menu.addAction("&Keyboard keys…")
    shown: list[QDialog] = []
    monkeypatch.setattr(QDialog, "exec", lambda dialog: shown.append(dialog) or 0)
    action = add_selftest_action(window)
    assert action in help_menu.actions()  # the existing Help menu, not a second one
    assert [a.text() for a in window.menuBar().actions()] == ["&Help"]
    action.trigger()
    assert len(shown) == 1
    lines = shown[0].findChild(QPlainTextEdit).toPlainText().splitlines()
    assert len(lines) == 11 and all(line.startswith("PASS") for line in lines)
    assert shown[0].findChild(QLabel, "verdict").text() == "selftest: all checks passed"


def test_shipped_files_are_in_the_transfer_syntax_their_names_say():
    for codec, uid in EXPECTED_TS.items():
        files = selftest.selftest_files(codec)
        assert len(files) == 4 + selftest.MR_SLICES
        for path in files:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            assert ds.file_meta.TransferSyntaxUID == uid, path.name
            assert ds.Modality == ("MG" if "_MG_" in path.name else "MR")
        views = {
            (ds.ImageLaterality, ds.ViewPosition)
            for ds in (pydicom.dcmread(p, stop_before_pixels=True) for p in files[:4])
        }
        assert views == {("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")}


@pytest.fixture
def bad_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the self-test images the checks read instead of the shipped ones."""
    folder = tmp_path / "selftest"
    shutil.copytree(selftest.selftest_files_dir(), folder)
    monkeypatch.setattr(selftest, "selftest_files_dir", lambda: folder)
    return folder


def test_decode_fails_when_pixels_differ_from_the_uncompressed_copy(bad_files: Path):
    # A valid JPEG lossless file of another view: it decodes, but not to the LCC's pixels.
    shutil.copyfile(bad_files / "jpegll_MG_RCC.dcm", bad_files / "jpegll_MG_LCC.dcm")
    with pytest.raises(ValueError, match=r"jpegll_MG_LCC\.dcm: decoded pixels differ"):
        selftest.decode_codec("jpegll")
    selftest.decode_codec("j2k")  # the others are untouched


def test_decode_fails_without_the_shipped_plug_in(monkeypatch: pytest.MonkeyPatch):
    from pydicom.pixels.decoders.base import get_decoder

    decoder = get_decoder(JPEG2000Lossless)
    monkeypatch.setattr(
        type(decoder), "available_plugins", property(lambda self: ("pillow",)), raising=True
    )
    with pytest.raises(ModuleNotFoundError, match="no pylibjpeg decoder"):
        selftest.decode_codec("j2k")


def test_one_failure_is_reported_and_the_others_still_run(capsys):
    def broken() -> str:
        raise FileNotFoundError("no checklist files in /nowhere")

    checks = [
        selftest.Check("first", lambda: "fine"),
        selftest.Check("checklists load", broken),
        selftest.Check("last", lambda: "also fine"),
    ]
    assert selftest.run_checks(checks) == 1
    assert capsys.readouterr().out.splitlines() == [
        "PASS  first: fine",
        "FAIL  checklists load: FileNotFoundError: no checklist files in /nowhere",
        "PASS  last: also fine",
        "selftest: 1 of 3 checks failed",
    ]


def test_checklists_check_fails_on_a_broken_shipped_file(tmp_path, monkeypatch):
    from auditdesk.checklists import loader

    shipped = tmp_path / "checklists"
    shutil.copytree(loader.shipped_dir(), shipped)
    (shipped / "pgmi.toml").write_text("id = [unclosed\n", encoding="utf-8")
    monkeypatch.setattr(loader, "shipped_dir", lambda: shipped)
    with pytest.raises(ValueError, match=r"pgmi\.toml"):
        selftest.check_checklists()


def test_data_folder_check_fails_when_it_is_not_writable(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(paths.HOME_ENV, str(blocker / "data"))  # a folder inside a file
    with pytest.raises(OSError):
        selftest.check_data_folder()


def test_offscreen_only_without_a_display(monkeypatch):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    selftest.use_offscreen_without_display()
    assert "QT_QPA_PLATFORM" not in os.environ
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    selftest.use_offscreen_without_display()
    expected = "offscreen" if sys.platform.startswith("linux") else None
    assert os.environ.get("QT_QPA_PLATFORM") == expected


# --------------------------------------------------------------------------------------------
# Portable mode
# --------------------------------------------------------------------------------------------


@pytest.fixture
def frozen_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pretend to run as the bundle's executable in tmp/AuditDesk/."""
    bundle = tmp_path / "stick" / "AuditDesk"
    bundle.mkdir(parents=True)
    (bundle / "auditdesk").write_text("")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(bundle / "auditdesk"))
    monkeypatch.delenv(paths.HOME_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return bundle


def test_bundle_without_marker_uses_the_user_data_folder(frozen_bundle: Path, tmp_path: Path):
    assert paths.data_dir() == tmp_path / "xdg" / "AuditDesk"
    assert not (frozen_bundle / "data").exists()


def test_portable_marker_keeps_the_data_beside_the_bundle(frozen_bundle: Path):
    (frozen_bundle / "portable.txt").write_text("")
    assert paths.data_dir() == frozen_bundle / "data"
    assert paths.default_db_url() == f"sqlite:///{frozen_bundle / 'data' / 'auditdesk.sqlite'}"
    selftest.check_data_folder()  # and it is writable there


def test_auditdesk_home_wins_over_the_marker(frozen_bundle: Path, tmp_path, monkeypatch):
    (frozen_bundle / "portable.txt").write_text("")
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "chosen"))
    assert paths.data_dir() == tmp_path / "chosen"


def test_marker_means_nothing_to_a_source_install(tmp_path, monkeypatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    (tmp_path / "portable.txt").write_text("")
    assert paths.portable_data_dir() is None
