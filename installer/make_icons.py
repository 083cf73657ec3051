"""Render the application icon (resources/auditdesk.svg) to the PNG sizes desktops use, and to a
Windows .ico, with Qt's SVG renderer (so no extra tool is needed at build time).

Usage: ``python installer/make_icons.py OUT_DIR`` writes ``OUT_DIR/hicolor/NxN/apps/auditdesk.png``
for every size in SIZES, ``OUT_DIR/auditdesk.svg`` and ``OUT_DIR/auditdesk.ico``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

SIZES = (16, 24, 32, 48, 64, 128, 256)
SVG = Path(__file__).resolve().parents[1] / "resources" / "auditdesk.svg"
ICO_NAME = "auditdesk.ico"


def render(out_dir: Path) -> list[Path]:
    """Write every icon file; returns the PNGs (smallest first)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG} is not a valid SVG")
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SVG, out_dir / "auditdesk.svg")
    pngs = []
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = out_dir / "hicolor" / f"{size}x{size}" / "apps" / "auditdesk.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target), "PNG"):
            raise SystemExit(f"could not write {target}")
        pngs.append(target)
    biggest = Image.open(pngs[-1])
    biggest.save(out_dir / ICO_NAME, sizes=[(s, s) for s in SIZES])
    return pngs


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: make_icons.py OUT_DIR")
    for png in render(Path(sys.argv[1])):
        print(png)
