"""The installers: Linux install.sh / uninstall.sh on a fake bundle in a throw-away HOME, the
icon sizes, and the Windows Inno Setup script checked against the PyInstaller spec.

The real bundle is built by installer/build (minutes, hundreds of MB), so these tests use a
small folder with the bundle's layout; CI builds the real one and runs its self-test.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "installer"
LINUX = INSTALLER / "linux"
SPEC = INSTALLER / "auditdesk.spec"
ISS = INSTALLER / "windows" / "auditdesk.iss"

# --------------------------------------------------------------------------------------------
# Linux
# --------------------------------------------------------------------------------------------


def _fake_bundle(folder: Path, version: str) -> Path:
    """A folder laid out like dist/AuditDesk after installer/build, tiny."""
    bundle = folder / "AuditDesk"
    (bundle / "_internal").mkdir(parents=True)
    exe = bundle / "auditdesk"
    exe.write_text(f'#!/bin/sh\necho "fake auditdesk {version} $*"\n')
    exe.chmod(0o755)
    (bundle / "_internal" / "libfake.so").write_bytes(b"\0" * 16)
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy2(LINUX / script, bundle / script)
    apps = bundle / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy2(LINUX / "auditdesk.desktop", apps / "auditdesk.desktop")
    icons = bundle / "share" / "icons" / "hicolor"
    for size in (16, 256):
        png = icons / f"{size}x{size}" / "apps" / "auditdesk.png"
        png.parent.mkdir(parents=True)
        png.write_bytes(b"\x89PNG fake")
    svg = icons / "scalable" / "apps" / "auditdesk.svg"
    svg.parent.mkdir(parents=True)
    shutil.copy2(ROOT / "resources" / "auditdesk.svg", svg)
    return bundle


def _env(home: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "TMPDIR": str(home.parent),
        # We run as root in CI: force the per-user install that a normal user gets.
        "AUDITDESK_INSTALL_SCOPE": "user",
    }


def _tree(home: Path) -> set[str]:
    """Every file, folder and link under ``home`` (relative)."""
    return {str(p.relative_to(home)) for p in home.rglob("*")}


def _run(cmd: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=_env(home), capture_output=True, text=True, timeout=60)


def test_install_upgrade_uninstall_in_a_temporary_home(tmp_path: Path):
    home = tmp_path / "home"
    data = home / ".local" / "share" / "AuditDesk"
    data.mkdir(parents=True)
    (data / "auditdesk.sqlite").write_bytes(b"the site's audits")
    other = home / ".local" / "share" / "applications" / "other.desktop"
    other.parent.mkdir(parents=True)
    other.write_text("[Desktop Entry]\nName=Other\n")
    before = _tree(home)

    bundle = _fake_bundle(tmp_path / "v1", "1")
    done = _run(["bash", str(bundle / "install.sh")], home)
    assert done.returncode == 0, done.stderr
    app = home / ".local" / "lib" / "auditdesk"
    launcher = home / ".local" / "bin" / "auditdesk"
    out = subprocess.run([str(launcher), "--selftest"], capture_output=True, text=True)
    assert out.stdout.strip() == "fake auditdesk 1 --selftest"

    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keep the keys' case
    entry.read(home / ".local" / "share" / "applications" / "auditdesk.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Exec"] == f'"{app}/auditdesk" gui'
    assert desktop["TryExec"] == f"{app}/auditdesk"
    assert desktop["Icon"] == "auditdesk"
    icons = home / ".local" / "share" / "icons" / "hicolor"
    assert (icons / "16x16" / "apps" / "auditdesk.png").is_file()
    assert (icons / "256x256" / "apps" / "auditdesk.png").is_file()
    assert (icons / "scalable" / "apps" / "auditdesk.svg").is_file()

    # The manifest names every file and folder placed outside the program folder.
    installed = _tree(home) - before
    outside = {p for p in installed if not p.startswith(".local/lib/auditdesk")}
    listed = {
        str(Path(line.split(" ", 1)[1]).relative_to(home))
        for line in (app / "install-manifest.txt").read_text().splitlines()
    }
    assert outside == listed
    assert ".local/bin/auditdesk" in listed
    first_install = _tree(home)

    # Upgrade from the .tar.gz of a newer bundle: same files, new program, data kept.
    newer = _fake_bundle(tmp_path / "v2", "2")
    tarball = tmp_path / "AuditDesk-2-linux-x86_64.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(newer, arcname="AuditDesk")
    done = _run(["bash", str(newer / "install.sh"), str(tarball)], home)
    assert done.returncode == 0, done.stderr
    out = subprocess.run([str(launcher)], capture_output=True, text=True)
    assert out.stdout.strip() == "fake auditdesk 2"
    assert _tree(home) == first_install

    # The installed copy's own install.sh cannot reinstall itself (it would delete its source).
    done = _run(["bash", str(app / "install.sh")], home)
    assert done.returncode == 2 and "is the installed copy" in done.stderr
    assert _tree(home) == first_install

    done = _run(["bash", str(app / "uninstall.sh")], home)
    assert done.returncode == 0, done.stderr
    assert "data folder was kept" in done.stdout
    assert _tree(home) == before
    assert (data / "auditdesk.sqlite").read_bytes() == b"the site's audits"
    assert other.is_file()


def test_installed_copy_of_a_portable_bundle_is_not_portable(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    bundle = _fake_bundle(tmp_path / "stick", "1")
    (bundle / "portable.txt").write_text("")
    assert _run(["bash", str(bundle / "install.sh")], home).returncode == 0
    app = home / ".local" / "lib" / "auditdesk"
    assert (app / "auditdesk").is_file()
    assert not (app / "portable.txt").exists()
    assert (bundle / "portable.txt").exists()  # the stick itself is left as it was


def test_install_refuses_what_is_not_a_bundle(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "notabundle").mkdir()
    done = _run(["bash", str(LINUX / "install.sh"), str(tmp_path / "notabundle")], home)
    assert done.returncode == 2
    assert "is not an AuditDesk bundle" in done.stderr
    assert _tree(home) == set()
    done = _run(["bash", str(LINUX / "uninstall.sh")], home)
    assert done.returncode == 1
    assert "not installed" in done.stderr


def test_desktop_entry_is_an_application_with_our_icon():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(LINUX / "auditdesk.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Name"] == "AuditDesk"
    assert desktop["Icon"] == "auditdesk"  # the PNG/SVG name in the hicolor theme
    assert desktop["Terminal"] == "false"
    assert desktop["Exec"].split()[0] == "auditdesk"


@pytest.mark.gui
def test_icons_render_in_every_size(tmp_path: Path):
    from PIL import Image

    sys.path.insert(0, str(INSTALLER))
    try:
        import make_icons
    finally:
        sys.path.remove(str(INSTALLER))
    pngs = make_icons.render(tmp_path)
    sizes = [Image.open(p).size for p in pngs]
    assert sizes == [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]
    for png in pngs:
        image = Image.open(png).convert("RGBA")
        n = image.size[0]
        assert image.getpixel((0, 0))[3] == 0  # transparent outside the rounded square
        red, _green, blue, alpha = image.getpixel((n // 2, int(n * 0.12)))
        assert alpha == 255 and blue > red  # the blue square above the screen
    ico = Image.open(tmp_path / make_icons.ICO_NAME)
    assert (256, 256) in ico.info["sizes"] and (16, 16) in ico.info["sizes"]


# --------------------------------------------------------------------------------------------
# Windows: the Inno Setup script against the spec's output layout
# --------------------------------------------------------------------------------------------


def spec_constants() -> dict[str, object]:
    """The spec's top-level string/tuple constants, read without running it."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    constants: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id.isupper():
                try:
                    constants[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return constants


def spec_calls(name: str) -> list[dict[str, str]]:
    """Keyword arguments (by constant name) of every call of ``name`` (EXE, COLLECT)."""
    calls = []
    for node in ast.walk(ast.parse(SPEC.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
            calls.append(
                {
                    kw.arg: kw.value.id
                    for kw in node.keywords
                    if kw.arg and isinstance(kw.value, ast.Name)
                }
            )
    return calls


def parse_iss() -> tuple[dict[str, str], dict[str, list[dict[str, str]]]]:
    """(settings of [Setup], entries of the other sections), with #define values filled in."""
    text = ISS.read_text(encoding="utf-8")
    defines = dict(re.findall(r'^#define\s+(\w+)\s+"([^"]*)"', text, flags=re.M))

    def expand(value: str) -> str:
        return re.sub(r"\{#(\w+)\}", lambda m: defines[m.group(1)], value)

    setup: dict[str, str] = {}
    sections: dict[str, list[dict[str, str]]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith((";", "#")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
        elif current == "Setup":
            key, _, value = line.partition("=")
            setup[key.strip()] = expand(value.strip())
        else:
            entry = {
                k: expand(v1 if v1 else v2.strip())
                for k, v1, v2 in re.findall(r'(\w+):\s*(?:"([^"]*)"|([^;]*))', line)
            }
            sections[current].append(entry)
    return setup, sections


def _from_root(iss_path: str) -> str:
    """A path in the .iss (relative to its folder, backslashes) as a path from the repo root."""
    resolved = os.path.normpath(ISS.parent / iss_path.replace("\\", "/"))
    return Path(resolved).relative_to(ROOT).as_posix()


def test_spec_builds_the_executables_the_iss_names():
    c = spec_constants()
    exes = spec_calls("EXE")
    assert {e["name"] for e in exes} == {"EXE_NAME", "GUI_EXE_NAME"}
    assert all(e["contents_directory"] == "CONTENTS_DIR" for e in exes)
    assert spec_calls("COLLECT") == [{"name": "APP_NAME"}]
    assert c["APP_NAME"] == "AuditDesk" and c["EXE_NAME"] == "auditdesk"


def test_inno_setup_script_names_files_of_the_spec_layout():
    c = spec_constants()
    bundle = f"dist/{c['APP_NAME']}"
    layout_files = {f"{bundle}/{c['EXE_NAME']}.exe", f"{bundle}/{c['GUI_EXE_NAME']}.exe"}
    layout_dirs = {f"{bundle}/{c['CONTENTS_DIR']}"}
    setup, sections = parse_iss()

    installed_in_app: set[str] = set()
    for entry in sections["Files"]:
        source = _from_root(entry["Source"])
        if source.endswith("/*"):
            assert source[:-2] in layout_dirs, source
            assert entry["DestDir"] == "{app}\\" + Path(source[:-2]).name
            assert "recursesubdirs" in entry["Flags"]
        else:
            assert source in layout_files, source
            assert entry["DestDir"] == "{app}"
            installed_in_app.add(Path(source).name)
    assert installed_in_app == {Path(f).name for f in layout_files}, "every executable installed"

    # Start-menu entry (per user) opening the windowed executable, with its icon.
    icons = sections["Icons"]
    assert any(i["Name"].startswith("{autoprograms}") for i in icons)
    for entry in icons:
        target = entry["Filename"].removeprefix("{app}\\")
        assert target in installed_in_app, entry
        assert target == f"{c['GUI_EXE_NAME']}.exe"
    assert setup["UninstallDisplayIcon"].removeprefix("{app}\\") in installed_in_app

    # The setup's icon is the one the spec renders, and the install is per user.
    assert _from_root(setup["SetupIconFile"]) == f"{c['ICON_DIR']}/{c['ICO_NAME']}"
    sys.path.insert(0, str(INSTALLER))
    try:
        import make_icons
    finally:
        sys.path.remove(str(INSTALLER))
    assert c["ICO_NAME"] == make_icons.ICO_NAME
    assert setup["PrivilegesRequired"] == "lowest"
    assert setup["DefaultDirName"].startswith("{autopf}")


def test_iss_version_is_the_package_version():
    from auditdesk import __version__

    setup, _ = parse_iss()
    assert setup["AppVersion"] == __version__
