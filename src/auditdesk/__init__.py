"""AuditDesk: offline image-quality audits for radiology quality-improvement collaboratives.

The package is layered: ``dicom``, ``store`` and ``demo`` are the core (no Qt import anywhere),
``ui`` is the PySide6 GUI on top, ``cli`` is the command line on top.
"""

__version__ = "0.1.0"
