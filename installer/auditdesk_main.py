"""Entry point of the frozen bundle (PyInstaller runs this file as ``__main__``).

``freeze_support`` must come first: the viewer and the importer decode in ``spawn`` worker
processes, and in a bundle each worker is this same executable started again.
"""

import multiprocessing
import sys
from pathlib import Path

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from auditdesk.cli import gui_main, main

    # The Windows bundle has a second, windowed executable (no console) for the Start menu.
    windowed = Path(sys.executable).stem.lower().endswith("-gui")
    sys.exit(gui_main() if windowed else main())
