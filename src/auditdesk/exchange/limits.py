"""Reading compressed input from others with limits, so a small hostile file cannot exhaust memory.

Why: a 1 MB gzip file can inflate to gigabytes ("decompression bomb"); reading it whole drove
the package importer to 2 GB before it noticed. Here the data is inflated in chunks and refused
as soon as it passes the limit, so memory stays bounded by the limit, not by the bomb. After
parsing, the number of JSON values is bounded too (a huge list of tiny items is the other way
to make a small file expensive).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any, BinaryIO

#: A year of a busy site's audits is a few MB of JSON; 64 MiB leaves a wide margin.
MAX_PACKAGE_BYTES = 64 * 1024 * 1024
#: Compressed size accepted at all (gzip of JSON is rarely better than 10:1).
MAX_PACKAGE_FILE_BYTES = 32 * 1024 * 1024
#: JSON values (objects, lists, strings, numbers) in one package.
MAX_JSON_VALUES = 5_000_000
CHUNK = 64 * 1024


class RefusedInputError(ValueError):
    """The input is refused (damaged, unreadable, too large); ``str()`` is the sentence."""


class InputTooLargeError(RefusedInputError):
    """The input would be larger than a limit."""


def read_gzip_limited(fp: BinaryIO, limit: int, what: str) -> bytes:
    """The inflated content of a gzip stream (several members allowed), at most ``limit`` bytes.

    Raises ``InputTooLargeError`` as soon as more would come out, ``zlib.error``/``EOFError``
    for damaged data.
    """
    out = bytearray()
    inflater = zlib.decompressobj(wbits=31)
    pending = b""
    while True:
        if not pending:
            pending = fp.read(CHUNK)
            if not pending:
                break
        data = inflater.decompress(pending, limit + 1 - len(out))
        pending = inflater.unconsumed_tail
        out += data
        if len(out) > limit:
            raise InputTooLargeError(
                f"{what} inflates to more than {limit // (1024 * 1024)} MiB, more than any real "
                "AuditDesk package; it was refused before reading further."
            )
        if inflater.eof:  # next gzip member, if any
            rest = inflater.unused_data
            inflater = zlib.decompressobj(wbits=31)
            pending = rest
            if not pending:
                more = fp.read(CHUNK)
                if not more:
                    return bytes(out)
                pending = more
    if not inflater.eof:
        raise EOFError("the compressed data ends too early")
    return bytes(out)


def count_json_values(document: Any, limit: int, what: str) -> int:
    """Count the values in a parsed JSON document; ``InputTooLargeError`` beyond ``limit``."""
    count = 0
    stack = [document]
    while stack:
        value = stack.pop()
        count += 1
        if count > limit:
            raise InputTooLargeError(
                f"{what} holds more than {limit:,} items, more than any real AuditDesk package; "
                "it was refused."
            )
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return count


def read_json_gzip(path: Path, damaged: str) -> Any:
    """A gzip'd JSON file (an AuditDesk package), read with every limit above.

    Raises ``RefusedInputError`` with one sentence: ``InputTooLargeError`` past a limit,
    ``damaged`` when it is not gzip'd JSON, "cannot read" when the file cannot be opened.
    """
    try:
        if path.stat().st_size > MAX_PACKAGE_FILE_BYTES:
            raise InputTooLargeError(
                f"{path.name} is larger than any real AuditDesk package "
                f"({MAX_PACKAGE_FILE_BYTES // (1024 * 1024)} MiB); it was refused."
            )
        with path.open("rb") as fp:
            raw = read_gzip_limited(fp, MAX_PACKAGE_BYTES, path.name)
        document = json.loads(raw.decode("utf-8"))
        del raw
    except RefusedInputError:
        raise
    except (EOFError, zlib.error, UnicodeDecodeError, ValueError, RecursionError):
        raise RefusedInputError(damaged) from None
    except OSError as exc:
        raise RefusedInputError(f"Cannot read the package {path}: {exc.strerror or exc}.") from exc
    count_json_values(document, MAX_JSON_VALUES, path.name)
    return document
