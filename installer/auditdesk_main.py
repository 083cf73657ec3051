"""Entry point of the frozen bundle (PyInstaller runs this file as ``__main__``).

``freeze_support`` must come first: the viewer and the importer decode in ``spawn`` worker
processes, and in a bundle each worker is this same executable started again.
"""

import multiprocessing
import os
import sys
from pathlib import Path

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if not any(os.environ.get(v) for v in ("LC_ALL", "LC_CTYPE", "LANG")):
        # An empty environment (env -i, some service managers) means the C locale, which Qt
        # warns about on every start before switching to C.UTF-8 itself.
        os.environ["LC_CTYPE"] = "C.UTF-8"
    from auditdesk.cli import gui_main, main

    # The Windows bundle has a second, windowed executable (no console) for the Start menu.
    windowed = Path(sys.executable).stem.lower().endswith("-gui")
    sys.exit(gui_main() if windowed else main())
