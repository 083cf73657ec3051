"""Small header helpers shared by the classifiers: upper-case text, multi-valued text, and
JSON round-trips of the frozen result dataclasses the index keeps in JSON columns."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, Final, Self

from auditdesk.dicom.bvalues import (
    as_text,
)

# --------------------------------------------------------------------------------------------
# Serialisation
# --------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return tuple([_from_json(v) if isinstance(v, list) else v for v in value])
    return value


class DictMixin:
    """to_dict/from_dict for frozen dataclasses whose fields are JSON scalars or tuples."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (tuples become lists, non-finite floats None)."""
        # Plain str/int/None values skip the call (an import converts thousands of these).
        out: dict[str, Any] = {}
        for name in _field_order(type(self)):
            value = getattr(self, name)
            out[name] = value if type(value) in _PLAIN else _jsonable(value)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Inverse of ``to_dict``; unknown keys are ignored and missing ones take defaults, so
        rows written by an older or newer AuditDesk still load."""
        names = _field_names(cls)
        return cls(
            **{
                k: _from_json(v) if isinstance(v, list) else v
                for k, v in dict(d).items()
                if k in names
            }
        )


#: Values ``_jsonable`` returns unchanged whatever they hold.
_PLAIN: Final = frozenset({str, int, bool, type(None)})


_FIELD_ORDER: dict[type, tuple[str, ...]] = {}


def _field_order(cls: type) -> tuple[str, ...]:
    """Field names per class in declaration order, computed once (an import writes and loads
    thousands of MR facts)."""
    order = _FIELD_ORDER.get(cls)
    if order is None:
        order = _FIELD_ORDER[cls] = tuple(f.name for f in fields(cls))
    return order


_FIELD_NAMES: dict[type, frozenset[str]] = {}


def _field_names(cls: type) -> frozenset[str]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(_field_order(cls))
    return names


def upper_text(value: Any) -> str:
    return as_text(value).upper()


def multi_text(value: Any) -> tuple[str, ...]:
    """A CS/LO value of any multiplicity as a tuple of upper-case stripped strings."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes, bytearray)):
        return tuple(p.strip().upper() for p in as_text(value).split("\\"))
    try:
        return tuple(upper_text(v) for v in value)
    except TypeError:
        return (upper_text(value),)
