"""Reading checklist files: TOML -> validated ``Checklist``, with errors that point at a line.

A site's team leader edits these files by hand, so every error names the file, the line, the key
path and what to change. One bad file never stops the others from loading.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from auditdesk.checklists.schema import ITEM_TYPES, RULE_KINDS, Checklist
from auditdesk.checklists.validate import Loc, build_index

SITE_SUBDIR = "checklists"
#: Keys the loader fills in; a file must not set them itself.
_RESERVED = ("content_hash", "source_text", "origin")


@dataclass(frozen=True)
class ChecklistError:
    """One problem in one file, phrased for the person who edits the file."""

    file: str
    line: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" [{self.key_path}]" if self.key_path else ""
        return f"{where}:{key} {self.message}"


class ChecklistValidationError(ValueError):
    """Raised by :func:`parse_checklist_text` with every problem found in the text."""

    def __init__(self, errors: Sequence[ChecklistError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass
class LoadResult:
    """Good checklists (every version found) and the errors of the files that did not load."""

    checklists: list[Checklist] = field(default_factory=list)
    errors: list[ChecklistError] = field(default_factory=list)

    def get(self, checklist_id: str, version: str | None = None) -> Checklist | None:
        """The given version, or the highest version when ``version`` is None."""
        found = [c for c in self.checklists if c.id == checklist_id]
        if version is not None:
            found = [c for c in found if c.version == version]
        return max(found, key=lambda c: c.version_key) if found else None

    def latest(self) -> list[Checklist]:
        """The highest version of each checklist id, sorted by id."""
        best: dict[str, Checklist] = {}
        for c in self.checklists:
            if c.id not in best or c.version_key > best[c.id].version_key:
                best[c.id] = c
        return [best[k] for k in sorted(best)]


# ---------------------------------------------------------------------------------------------
# hashing
# ---------------------------------------------------------------------------------------------


def normalise_text(text: str) -> str:
    """CRLF/CR -> LF and no BOM, so the same file hashes the same on every platform."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def content_hash(text: str) -> str:
    """sha256 of the UTF-8 bytes of the normalised text."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# key path -> line number
# ---------------------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*(=|\.)")


class LineFinder:
    """Maps a key path such as ``("rules", 3, "of", 1)`` to a line of the TOML text.

    Only array-of-tables headers, table headers and ``key =`` lines are tracked; that is enough
    for the files this format uses. Inline arrays written one element per line are resolved to
    the element's line; anything finer falls back to the key's line.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        # resolved table path -> (first line index, end line index exclusive)
        self.tables: dict[Loc, list[int]] = {(): [0, len(self.lines)]}
        counts: dict[Loc, int] = {}
        current: dict[str, int] = {}  # dotted array path -> current index
        order: list[tuple[Loc, int]] = []
        for n, raw in enumerate(self.lines):
            match = _HEADER.match(raw)
            if not match or raw.lstrip().startswith("#"):
                continue
            is_array = match.group(1) == "[["
            parts = [p.strip().strip('"') for p in match.group(2).split(".")]
            resolved: list[str | int] = []
            for depth, part in enumerate(parts):
                resolved.append(part)
                dotted = ".".join(parts[: depth + 1])
                last = depth == len(parts) - 1
                if last and is_array:
                    key = tuple(resolved)
                    counts[key] = counts.get(key, -1) + 1
                    current[dotted] = counts[key]
                    resolved.append(counts[key])
                    # deeper arrays restart under a new parent element
                    for other in list(current):
                        if other.startswith(dotted + "."):
                            del current[other]
                elif dotted in current:
                    resolved.append(current[dotted])
            order.append((tuple(resolved), n))
        for pos, (path, start) in enumerate(order):
            end = order[pos + 1][1] if pos + 1 < len(order) else len(self.lines)
            self.tables[path] = [start, end]
        if order:
            self.tables[()] = [0, order[0][1]]

    def line_of(self, loc: Loc) -> int | None:
        """1-based line for the key path (the nearest enclosing table when the key is absent)."""
        loc = tuple(loc)
        # deepest table that is a prefix of loc
        best: Loc = ()
        for path in self.tables:
            if len(path) > len(best) and loc[: len(path)] == path:
                best = path
        start, end = self.tables[best]
        rest = loc[len(best) :]
        line = start if best else None
        if not rest:
            return (start + 1) if best else 1
        key = rest[0]
        if isinstance(key, str):
            for n in range(start + (1 if best else 0), end):
                m = _KEY.match(self.lines[n])
                if m and m.group(1).strip('"') == key:
                    line = n
                    if len(rest) >= 2 and isinstance(rest[1], int):
                        elem = self._element_line(n, end, rest[1])
                        if elem is not None:
                            line = elem
                    break
        return None if line is None else line + 1

    def _element_line(self, key_line: int, end: int, index: int) -> int | None:
        """Line of element ``index`` of a multi-line inline array starting at ``key_line``."""
        if not self.lines[key_line].rstrip().endswith("["):
            return None
        seen = -1
        depth = 0
        for n in range(key_line + 1, end):
            text = self.lines[n].strip()
            if not text or text.startswith("#"):
                continue
            if depth == 0 and text.startswith("]"):
                return None
            if depth == 0:
                seen += 1
                if seen == index:
                    return n
            depth += text.count("{") + text.count("[") - text.count("}") - text.count("]")
            depth = max(depth, 0)
        return None


def _format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _strip_tags(loc: Sequence[Any], data: Any) -> Loc:
    """Pydantic puts the union tag (e.g. 'pass_fail') into the path; drop what is not data."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if (
            isinstance(node, dict)
            and isinstance(part, str)
            and part not in node
            and (part in ITEM_TYPES or part in RULE_KINDS or "[" in part)
        ):
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _lookup(data: Any, loc: Loc) -> Any:
    node = data
    for part in loc:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


def _pydantic_message(err: Any, data: Any, loc: Loc) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return f"required key '{loc[-1]}' is missing"
    if kind == "extra_forbidden":
        return f"unknown key '{loc[-1]}' (check the spelling; see checklists/README.md)"
    if kind == "union_tag_invalid":
        tag = ctx.get("discriminator", "").strip("'")
        what = "item type" if tag == "type" else "rule kind"
        allowed = ", ".join(ITEM_TYPES if tag == "type" else RULE_KINDS)
        return f"unknown {what} '{ctx.get('tag')}'; use one of: {allowed}"
    if kind == "union_tag_not_found":
        tag = ctx.get("discriminator", "").strip("'")
        return f"key '{tag}' is missing (it says what this table is)"
    if kind == "literal_error":
        return f"{_lookup(data, loc)!r} is not allowed here; use one of: {ctx.get('expected')}"
    if loc == ("version",) and kind == "string_type":
        return 'version must be text in quotes, e.g. version = "1.0"'
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg[0].lower() + msg[1:] if msg else msg


def parse_checklist_text(text: str, origin: str = "<text>") -> Checklist:
    """Parse and validate one checklist; raises :class:`ChecklistValidationError` with all problems.

    Also used to re-read the ``source_text`` snapshot stored with an audit, so old audits are
    re-scored with exactly the version they used.
    """
    text = normalise_text(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        if line is None:
            found = re.search(r"line (\d+)", str(exc))
            line = int(found.group(1)) if found else None
        msg = getattr(exc, "msg", None) or re.sub(r"\s*\(at line.*\)$", "", str(exc))
        raise ChecklistValidationError(
            [ChecklistError(origin, line, "", f"not valid TOML: {msg}")]
        ) from None
    finder = LineFinder(text)
    reserved = [k for k in _RESERVED if k in data]
    if reserved:
        raise ChecklistValidationError(
            [
                ChecklistError(
                    origin, finder.line_of((k,)), k, f"'{k}' is set by AuditDesk; remove it"
                )
                for k in reserved
            ]
        )
    data = {**data, "content_hash": content_hash(text), "source_text": text, "origin": origin}
    try:
        checklist = Checklist.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = _strip_tags(err["loc"], data)
            if err["type"] == "union_tag_invalid":
                loc = (*loc, str((err.get("ctx") or {}).get("discriminator", "")).strip("'"))
            errors.append(
                ChecklistError(
                    origin, finder.line_of(loc), _format_loc(loc), _pydantic_message(err, data, loc)
                )
            )
        raise ChecklistValidationError(_dedupe(errors)) from None
    index, problems = build_index(checklist)
    if problems:
        raise ChecklistValidationError(
            [
                ChecklistError(origin, finder.line_of(loc), _format_loc(loc), msg)
                for loc, msg in problems
            ]
        )
    checklist._index = index
    return checklist


def _dedupe(errors: Iterable[ChecklistError]) -> list[ChecklistError]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for e in errors:
        key = (e.line, e.key_path, e.message)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def load_checklist_file(path: Path) -> Checklist:
    """Read one file (errors name the file by its path)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ChecklistValidationError(
            [ChecklistError(str(path), None, "", f"cannot read the file: {exc}")]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ChecklistValidationError(
            [ChecklistError(str(path), line, "", "the file is not UTF-8 text; save it as UTF-8")]
        ) from None
    return parse_checklist_text(text, origin=str(path))


def shipped_dir() -> Path:
    """Folder of the checklists that ship with AuditDesk."""
    return Path(str(resources.files("auditdesk.checklist_files")))


def site_dir() -> Path:
    """Folder where a site keeps its own (edited or additional) checklists."""
    from auditdesk.paths import data_dir

    return data_dir(create=False) / SITE_SUBDIR


def load_all(
    shipped: Path | None = None,
    site: Path | None = None,
    include_site: bool = True,
) -> LoadResult:
    """Load every ``*.toml`` from the shipped folder and the site folder.

    A site file with an id that ships too is an additional version of that checklist; the same id
    and version with different content is refused, so an audit's version always means one text.
    """
    result = LoadResult()
    folders = [shipped or shipped_dir()]
    if include_site:
        folders.append(site if site is not None else site_dir())
    by_version: dict[tuple[str, str], Checklist] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                checklist = load_checklist_file(path)
            except ChecklistValidationError as exc:
                result.errors.extend(exc.errors)
                continue
            key = (checklist.id, checklist.version)
            known = by_version.get(key)
            if known is not None:
                clash = _version_clash(checklist, path, known)
                if clash is not None:
                    result.errors.append(clash)
                continue
            by_version[key] = checklist
            result.checklists.append(checklist)
    result.checklists.sort(key=lambda c: (c.id, c.version_key))
    return result


def _version_clash(checklist: Checklist, path: Path, known: Checklist) -> ChecklistError | None:
    """The error for a file reusing another file's id and version with other content."""
    if known.content_hash == checklist.content_hash:
        return None
    return ChecklistError(
        str(path),
        LineFinder(checklist.source_text).line_of(("version",)),
        "version",
        f"checklist '{checklist.id}' version {checklist.version} already exists in "
        f"{known.origin} with different content; give your edited file a new version, "
        f'e.g. version = "{_next_version(checklist.version)}"',
    )


def validate_files(
    paths: Iterable[Path], shipped: Path | None = None, site: Path | None = None
) -> LoadResult:
    """Check files exactly as ``load_all`` (``checklist list`` and the app) would treat them.

    Each file is parsed and then compared with the installed checklists (shipped and site) and
    the files before it: the same id and version with different content is refused, so a file
    that passes here is one the app will load.
    """
    installed = load_all(shipped=shipped, site=site)
    by_version = {(c.id, c.version): c for c in installed.checklists}
    result = LoadResult()
    for path in paths:
        try:
            checklist = load_checklist_file(path)
        except ChecklistValidationError as exc:
            result.errors.extend(exc.errors)
            continue
        key = (checklist.id, checklist.version)
        clash = _version_clash(checklist, path, by_version[key]) if key in by_version else None
        if clash is not None:
            result.errors.append(clash)
            continue
        by_version.setdefault(key, checklist)
        result.checklists.append(checklist)
    return result


def _next_version(version: str) -> str:
    parts = version.split(".")
    parts[-1] = str(int(parts[-1]) + 1)
    return ".".join(parts)
