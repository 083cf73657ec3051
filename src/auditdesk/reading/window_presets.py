"""User window presets, per modality, kept in a small JSON file beside the database.

A reviewer who always reads prostate T2W at the same window saves it once ("T2 prostate",
W 700 C 350) and picks it from the Window list of every MR image afterwards. Presets are values
in the image's modality units (after the Modality LUT), so they mean the same on every image of
a modality and scanner; they are per workstation, like the window layout, not shared in the
database (a preference, not audit data).
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from auditdesk.dicom.display import VOIPreset
from auditdesk.paths import data_dir

log = logging.getLogger(__name__)

FILE_NAME = "window_presets.json"
#: Shown in front of a user preset's name in the Window list, so it is not taken for a file's.
USER_MARK = "★ "
FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


class PresetError(ValueError):
    """A preset that cannot be saved; the message is one sentence for the user."""


@dataclass(frozen=True)
class UserPreset:
    modality: str  # "MG", "MR", ... (DICOM Modality)
    name: str
    center: float
    width: float
    function: str = "LINEAR"

    def to_voi(self) -> VOIPreset:
        return VOIPreset(
            name=USER_MARK + self.name,
            kind="window",
            center=self.center,
            width=self.width,
            function=self.function,
            source=f"your preset for {self.modality}",
        )


class UserPresets:
    """Load, add and remove presets; every change is written at once (atomic replace)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / FILE_NAME
        self.problem: str | None = None  # why the file could not be read (shown to the user)
        self._presets: list[UserPreset] = self._load()

    def _load(self) -> list[UserPreset]:
        if not self.path.exists():
            return []
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return [UserPreset(**item) for item in raw["presets"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.problem = f"{self.path} could not be read ({exc}); your presets start empty."
            log.warning(self.problem)
            return []

    def for_modality(self, modality: str | None) -> list[UserPreset]:
        return [p for p in self._presets if p.modality == (modality or "").upper()]

    def all(self) -> list[UserPreset]:
        return list(self._presets)

    def add(
        self, modality: str | None, name: str, center: float, width: float, function: str = "LINEAR"
    ) -> UserPreset:
        """Save (or replace, same modality and name) a preset."""
        name = name.strip()
        modality = (modality or "").strip().upper()
        if not name or len(name) > 40:
            raise PresetError("A preset name needs 1 to 40 characters.")
        if not modality:
            raise PresetError("This image has no modality, so a preset cannot be filed for it.")
        if not (math.isfinite(center) and math.isfinite(width)) or width < 1:
            raise PresetError("A window needs a finite centre and a width of at least 1.")
        if function not in FUNCTIONS:
            function = "LINEAR"
        preset = UserPreset(modality, name, float(center), float(width), function)
        self._presets = [
            p for p in self._presets if not (p.modality == modality and p.name == name)
        ] + [preset]
        self._save()
        return preset

    def remove(self, modality: str | None, name: str) -> bool:
        before = len(self._presets)
        name = name.removeprefix(USER_MARK)
        self._presets = [
            p
            for p in self._presets
            if not (p.modality == (modality or "").upper() and p.name == name)
        ]
        if len(self._presets) != before:
            self._save()
            return True
        return False

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        payload = {"format": 1, "presets": [asdict(p) for p in self._presets]}
        tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)


__all__ = ["USER_MARK", "PresetError", "UserPreset", "UserPresets"]
