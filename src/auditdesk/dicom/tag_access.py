"""Tolerant, fast header access shared by every classifier: odd headers never raise.

Why fast: the index reads ~50 elements from each header, and through ``ds.get(keyword)`` each
lookup costs about ten Python calls (keyword -> tag, ``Tag()``, ``__getitem__``, ``__setitem__``
checks) on top of converting the raw bytes. Here an element pydicom has already converted is
taken straight from the dataset's dict (what ``ds[tag]`` returns), and a plain public element
is converted with pydicom's own converter and character set and stored as ``ds[tag]`` stores it.

During an import (:func:`conversion_cache`) conversions are also remembered by their raw bytes:
most of a series' header (vendor, protocol, timing, geometry) is byte-for-byte the same in
every file, so it is converted once per worker. Values are shared between datasets only inside
that scope, where datasets are read, turned into a record and dropped.

:data:`FAST_LOOKUPS` = False restores pydicom's own lookups everywhere: the reference
tests/test_import_fast_paths.py compares the fast path against, record for record.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from pydicom import config
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.hooks import hooks
from pydicom.valuerep import AMBIGUOUS_VR, VR

__all__ = [
    "FAST_LOOKUPS",
    "conversion_cache",
    "element",
    "enable_conversion_cache",
    "get_element",
    "get_value",
    "value_of",
]

#: False: every lookup goes through pydicom's ``ds.get``/``ds[tag]`` (the tested reference).
FAST_LOOKUPS = True

_TAG_CHARSET: Final = 0x00080005
_PIXEL_TAGS: Final = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_VIA_PYDICOM: Final = frozenset({VR.SQ, *AMBIGUOUS_VR})
#: Longer raw values (LUTs, overlays, private blobs) are converted without being remembered.
_CACHE_MAX_VALUE_BYTES: Final = 512
_CACHE_MAX_ENTRIES: Final = 50_000
_DEFAULT_HOOKS: Final = (hooks.raw_element_vr, hooks.raw_element_value)

#: keyword -> tag, filled on first use (pydicom's lookup runs on every ``ds.get(keyword)``).
_KEYWORD_TAGS: dict[str, int | None] = {}

#: Per thread: (tag, VR, raw bytes, encoding, character set) -> (VR, value) while an import
#: reads headers (thread-local, so a viewer in another thread never shares values).
_state = threading.local()


@contextmanager
def conversion_cache() -> Iterator[None]:
    """Remember element conversions by raw bytes while headers are read for the index."""
    outer = getattr(_state, "cache", None)
    if outer is None:
        _state.cache = {}
    try:
        yield
    finally:
        _state.cache = outer


def enable_conversion_cache() -> None:
    """For a worker process that only reads headers for the index: the cache for its life."""
    _state.cache = {}


def _cache_key(ds: Dataset, elem: RawDataElement) -> tuple[Any, ...] | None:
    """What a conversion depends on, or None when it must not be remembered."""
    value = elem.value
    if (
        elem.VR is None  # implicit VR: the VR may depend on the dataset
        or value is None
        or len(value) > _CACHE_MAX_VALUE_BYTES
        or config.data_element_callback is not None
        or (hooks.raw_element_vr, hooks.raw_element_value) != _DEFAULT_HOOKS
        or hooks.raw_element_kwargs
    ):
        return None
    charset = ds._read_charset or ds._character_set
    return (
        elem.tag,
        elem.VR,
        value,
        elem.is_implicit_VR,
        elem.is_little_endian,
        charset if isinstance(charset, str) else tuple(charset),
    )


def _convert(ds: Dataset, elem: RawDataElement) -> DataElement:
    """``convert_raw_data_element`` as ``ds[tag]`` calls it, remembered inside the scope."""
    cache: dict[tuple[Any, ...], tuple[str, Any]] | None = getattr(_state, "cache", None)
    key = None if cache is None else _cache_key(ds, elem)
    if cache is None or key is None:
        return convert_raw_data_element(elem, encoding=ds._read_charset or ds._character_set, ds=ds)
    hit = cache.get(key)
    if hit is None:
        new = convert_raw_data_element(elem, encoding=ds._read_charset or ds._character_set, ds=ds)
        if len(cache) >= _CACHE_MAX_ENTRIES:
            cache.clear()
        cache[key] = (new.VR, new.value)
        return new
    # The same constructor call convert_raw_data_element ends with.
    return DataElement(
        elem.tag,
        hit[0],
        hit[1],
        elem.value_tell,
        elem.length == 0xFFFFFFFF,
        already_converted=True,
    )


def _converted(ds: Dataset, tag: int) -> DataElement | None:
    """The element at ``tag`` as ``ds[tag]`` returns it, or None when absent."""
    # A plain int finds a BaseTag key (same hash and equality) without building one per call.
    elem = ds._dict.get(tag)  # type: ignore[call-overload]
    if elem is None:
        return None
    if type(elem) is not RawDataElement:
        return elem  # already converted: what ds[tag] returns
    if (
        (elem.value is None and elem.length != 0)  # deferred read
        or tag >> 16 & 1  # private: pydicom also records the creator
        or tag == _TAG_CHARSET
        or tag in _PIXEL_TAGS
    ):
        return ds[tag]
    new = _convert(ds, elem)
    if new.VR in _VIA_PYDICOM or new.tag != tag:
        return ds[tag]  # sequences and ambiguous VRs: pydicom's own path
    ds._dict[tag] = new  # type: ignore[index]  # an int key: see _converted
    return new


def _tag(keyword: str) -> int | None:
    try:
        return _KEYWORD_TAGS[keyword]
    except KeyError:
        tag = _KEYWORD_TAGS[keyword] = tag_for_keyword(keyword)
        return tag


def element(ds: Dataset, keyword: str) -> DataElement | None:
    """``ds[keyword]`` when ``keyword in ds``, else None; conversion errors propagate as there.

    For callers that report malformed values themselves (pixel geometry, identity tags).
    """
    tag = _tag(keyword)
    if tag is None or not FAST_LOOKUPS or type(getattr(ds, "_dict", None)) is not dict:
        return ds[keyword] if keyword in ds else None  # noqa: SIM401 (get gives the value)
    return _converted(ds, tag)


def get_element(ds: Dataset | None, tag: int) -> DataElement | None:
    """The element at ``tag`` or None; conversion errors of malformed values give None."""
    if ds is None:
        return None
    try:
        if FAST_LOOKUPS:
            return _converted(ds, tag)
        if tag not in ds:  # the reference path: pydicom's own lookup
            return None
        return ds[tag]
    except Exception:
        return None


def value_of(ds: Dataset, keyword: str) -> Any:
    """``ds[keyword].value`` when ``keyword in ds``, else None (what ``ds.get(keyword)`` gives);
    conversion errors propagate as there.

    A value converted before in this import (maybe in another file) is handed out without
    building a DataElement: the classifiers want only the value. The rest goes the usual way.
    """
    tag = _KEYWORD_TAGS.get(keyword, -1)
    if tag == -1:
        tag = _tag(keyword)
    if tag is None or not FAST_LOOKUPS or type(getattr(ds, "_dict", None)) is not dict:
        return ds[keyword].value if keyword in ds else None
    raw = ds._dict.get(tag)  # type: ignore[call-overload]  # an int key: see _converted
    if raw is None:
        return None
    if type(raw) is not RawDataElement:
        return raw.value
    cache = getattr(_state, "cache", None)
    if (
        cache is not None
        and not tag >> 16 & 1
        and tag != _TAG_CHARSET
        and tag not in _PIXEL_TAGS
        and raw.tag == tag
    ):
        key = _cache_key(ds, raw)
        hit = None if key is None else cache.get(key)
        if hit is not None and hit[0] not in _VIA_PYDICOM:
            return hit[1]
    elem = _converted(ds, tag)
    return None if elem is None else elem.value


def get_value(ds: Dataset | None, keyword: str) -> Any:
    """``ds.<keyword>`` or None, never raising (bad VRs, truncated files, wrong types)."""
    if ds is None:
        return None
    tag = _KEYWORD_TAGS.get(keyword, -1)
    if tag == -1:
        tag = _tag(keyword)
    try:
        if tag is None or not FAST_LOOKUPS or type(getattr(ds, "_dict", None)) is not dict:
            return ds.get(keyword)
        return value_of(ds, keyword)
    except Exception:
        return None
