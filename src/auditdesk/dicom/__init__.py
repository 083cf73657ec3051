"""DICOM core: header reading, classification, pixel decoding and the display pipeline (no Qt).

Real-world files are full of values that break the standard's VR rules (a UID with letters, an
IS of '1A'); pydicom warns on each. AuditDesk checks what it needs itself and reports problems in
the import summary, so pydicom's per-value validation warnings are turned off for reading.
"""

from pydicom import config as _config

_config.settings.reading_validation_mode = _config.IGNORE
