"""The decode pool's bounded cache: prefetched images are reused, memory stays bounded."""

from __future__ import annotations

import pytest

from auditdesk.dicom.loader import DisplayLoader, LoadedImage, loaded_nbytes
from auditdesk.dicom.sources import Location


@pytest.fixture(scope="module")
def mammo_locations(test_set) -> list[Location]:
    study = next(s for s in test_set.studies if s.kind == "mammo")
    return [Location(str(f.path)) for f in study.files][:4]


def test_prefetched_images_are_reused_by_submit(mammo_locations):
    pool = DisplayLoader(workers=1)
    try:
        pool.prefetch(mammo_locations[:2])
        first = pool.submit(mammo_locations[0])
        assert isinstance(first.result(timeout=120), LoadedImage)
        assert pool.stats.hits == 1 and pool.stats.misses == 0
        again = pool.submit(mammo_locations[0])
        assert again is first
        assert pool.cached(mammo_locations[0])
        other = pool.submit(mammo_locations[2])  # not prefetched
        other.result(timeout=120)
        assert pool.stats.misses == 1
    finally:
        pool.shutdown()


def test_cache_stays_within_its_byte_bound(mammo_locations):
    probe = DisplayLoader(workers=1)
    try:
        one = loaded_nbytes(probe.submit(mammo_locations[0]).result(timeout=120))
    finally:
        probe.shutdown()
    pool = DisplayLoader(workers=1, cache_bytes=int(one * 2.5))
    try:
        for loc in mammo_locations:
            pool.submit(loc).result(timeout=120)
        pool.submit(mammo_locations[-1]).result(timeout=120)
        assert pool.stats.entries <= 3
        assert pool.stats.bytes <= one * 3
        assert pool.stats.evicted >= 1
        # The least recently used went first; the latest is still there.
        assert not pool.cached(mammo_locations[0])
        assert pool.cached(mammo_locations[-1])
    finally:
        pool.shutdown()


def test_failed_decodes_are_not_cached(tmp_path):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom")
    pool = DisplayLoader(workers=1)
    try:
        future = pool.submit(Location(str(bad)))
        with pytest.raises(Exception):  # noqa: B017 - any decode error will do
            future.result(timeout=120)
        assert not pool.cached(Location(str(bad)))
        assert pool.submit(Location(str(bad))) is not future
    finally:
        pool.shutdown()


def test_cancel_prefetch_drops_queued_work_without_deadlock(mammo_locations):
    pool = DisplayLoader(workers=1)
    try:
        pool.prefetch(mammo_locations * 3)  # more than the pool takes at once
        cancelled = pool.cancel_prefetch()
        assert cancelled >= 1
        assert pool.stats.cancelled == cancelled
        # What was cancelled is decoded again on request.
        assert isinstance(pool.submit(mammo_locations[-1]).result(timeout=120), LoadedImage)
    finally:
        pool.shutdown()


def test_prefetch_history_is_bounded(tmp_path):
    """A day of audits prefetches thousands of images; the stats keep only the latest."""
    from auditdesk.dicom.loader import PREFETCH_HISTORY

    pool = DisplayLoader(workers=1)
    try:
        missing = [
            Location(str(tmp_path / f"missing{i}.dcm")) for i in range(PREFETCH_HISTORY + 36)
        ]
        pool.prefetch(missing)
        pool.cancel_prefetch()
        assert len(pool.stats.prefetched) == PREFETCH_HISTORY
        assert pool.stats.prefetched[-1] == missing[-1]  # the newest are kept
    finally:
        pool.shutdown()


def test_a_smaller_budget_evicts_at_once(mammo_locations):
    pool = DisplayLoader(workers=1)
    try:
        sizes = [loaded_nbytes(pool.submit(loc).result(timeout=120)) for loc in mammo_locations]
        assert pool.stats.entries == len(mammo_locations)
        budget = sizes[-1] + sizes[-2]  # room for the two most recently used
        pool.set_cache_bytes(budget)
        assert pool.stats.bytes <= budget and pool.stats.entries == 2
        assert pool.cached(mammo_locations[-1]) and not pool.cached(mammo_locations[0])
    finally:
        pool.shutdown()


def test_cache_budget_setting_round_trip(tmp_path, monkeypatch):
    from auditdesk.runtime import app_settings

    monkeypatch.setenv("AUDITDESK_HOME", str(tmp_path))
    assert app_settings.decode_cache_bytes() == app_settings.DEFAULT_DECODE_CACHE_BYTES
    app_settings.set_decode_cache_bytes(512 * 1024 * 1024)
    assert app_settings.decode_cache_bytes() == 536_870_912
    with pytest.raises(ValueError, match="at least 64 MiB"):
        app_settings.set_decode_cache_bytes(1000)
    app_settings.save(decode_cache_bytes="lots")  # a hand-edited file: default, no crash
    assert app_settings.decode_cache_bytes() == app_settings.DEFAULT_DECODE_CACHE_BYTES
