"""The fixed parts of the package and site-key formats: format constants, the site-key
fingerprint, the keyed image key, the canonical JSON the signature covers, the HMAC signature and
the atomic file write. Separate because export, import and the site key all rely on exactly these
bytes; one definition keeps a package signed on one workstation verifiable on another.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from auditdesk.qi import site

PACKAGE_SUFFIX = ".adpkg"
SITE_KEY_SUFFIX = ".adkey"
PACKAGE_KIND = "auditdesk-package"
PACKAGE_FORMAT = 1
SITE_KEY_KIND = "auditdesk-site-key"
SITE_KEY_FORMAT = 1
FINGERPRINT_LENGTH = 16
IMAGE_KEY_PREFIX = "IM-"


def fingerprint(secret: bytes) -> str:
    """Short public fingerprint of a site secret (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(secret).hexdigest()[:FINGERPRINT_LENGTH]


def image_key(secret: bytes, sop_uid: str) -> str:
    """Pseudonymous image key 'IM-…' (the exam-key HMAC applied to the SOP Instance UID)."""
    return IMAGE_KEY_PREFIX + site.exam_key(secret, sop_uid)[len(site.EXAM_KEY_PREFIX) :]


def canonical_json(value: Any) -> bytes:
    """The bytes the signature is computed over: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sign(secret: bytes, payload: dict[str, Any]) -> str:
    return hmac.new(secret, canonical_json(payload), hashlib.sha256).hexdigest()


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _write_atomic(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write to a temporary file beside ``path`` and move it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
        if private:
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
