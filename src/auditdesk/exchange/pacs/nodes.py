"""PACS nodes: the connection settings of each PACS, stored in the database (``pacs_nodes``).

A node is either DIMSE (called AE title, host, port, plus our own AE title and, for C-MOVE, our
storage port) or DICOMweb (base URL with optional basic or bearer authentication). Bad settings
are refused with one sentence saying which setting and what is valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditdesk.store.models import PacsNode

DEFAULT_OUR_AET = "AUDITDESK"
DEFAULT_TIMEOUT_S = 30.0
_AET_RE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # DICOM AE: 16 chars, no backslash
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class PacsError(RuntimeError):
    """A PACS operation failed; the message is one sentence for the user."""


@dataclass(frozen=True)
class NodeConfig:
    """One PACS node's settings (a plain copy of the row, safe to hand to worker threads)."""

    name: str
    protocol: str  # "dimse" or "dicomweb"
    aet: str | None = None
    host: str | None = None
    port: int | None = None
    our_aet: str = DEFAULT_OUR_AET
    our_port: int | None = None
    url: str | None = None
    auth: str = "none"  # none, basic, bearer
    username: str | None = None
    secret: str | None = None
    retrieve_method: str = "get"  # get (C-GET) or move (C-MOVE to our storage SCP)
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def address(self) -> str:
        """Where the node is, without credentials (for messages and listings)."""
        if self.protocol == "dicomweb":
            return str(self.url)
        return f"{self.aet}@{self.host}:{self.port}"

    def describe(self) -> str:
        if self.protocol == "dicomweb":
            auth = "" if self.auth == "none" else f" ({self.auth} auth)"
            return f"{self.name}: DICOMweb {self.url}{auth}"
        method = "C-MOVE" if self.retrieve_method == "move" else "C-GET"
        port = f", our port {self.our_port}" if self.our_port else ""
        return f"{self.name}: DIMSE {self.address} as {self.our_aet}{port}, {method}"


def validate(node: NodeConfig) -> NodeConfig:
    """Check every setting; returns the node with AE titles stripped and upper-cased as typed."""
    if not _NAME_RE.match(node.name or ""):
        raise PacsError(
            f"PACS node name {node.name!r} is not valid: use 1-64 letters, digits, '-', '_' or '.'."
        )
    if not (0 < node.timeout_s <= 3600):
        raise PacsError(f"Timeout {node.timeout_s} s is not valid: give 1 to 3600 seconds.")
    if node.protocol == "dicomweb":
        parsed = urlparse(node.url or "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise PacsError(
                f"DICOMweb URL {node.url!r} is not valid: give e.g. https://pacs.example/dicom-web."
            )
        if node.auth not in ("none", "basic", "bearer"):
            raise PacsError(f"Authentication {node.auth!r} is not valid: none, basic or bearer.")
        if node.auth == "basic" and not (node.username and node.secret is not None):
            raise PacsError("Basic authentication needs a user name and a password.")
        if node.auth == "bearer" and not node.secret:
            raise PacsError("Bearer authentication needs a token.")
        return node
    if node.protocol != "dimse":
        raise PacsError(f"Protocol {node.protocol!r} is not valid: dimse or dicomweb.")
    for label, value in (("PACS AE title", node.aet), ("our AE title", node.our_aet)):
        if not value or not _AET_RE.match(value) or not value.strip():
            raise PacsError(
                f"{label} {value!r} is not valid: 1-16 printable characters, no backslash."
            )
    if not node.host:
        raise PacsError("The PACS host is missing: give its name or IP address.")
    for label, port in (("PACS port", node.port), ("our port", node.our_port)):
        if port is not None and not (0 < port < 65536):
            raise PacsError(f"{label} {port} is not valid: 1-65535.")
    if node.port is None:
        raise PacsError("The PACS port is missing (often 104 or 11112).")
    if node.retrieve_method not in ("get", "move"):
        raise PacsError(f"Retrieve method {node.retrieve_method!r} is not valid: get or move.")
    if node.retrieve_method == "move" and not node.our_port:
        raise PacsError("C-MOVE needs our own storage port (--our-port) for the PACS to send to.")
    return node


def _to_config(row: PacsNode) -> NodeConfig:
    return NodeConfig(
        name=row.name,
        protocol=row.protocol,
        aet=row.aet,
        host=row.host,
        port=row.port,
        our_aet=row.our_aet or DEFAULT_OUR_AET,
        our_port=row.our_port,
        url=row.url,
        auth=row.auth,
        username=row.username,
        secret=row.secret,
        retrieve_method=row.retrieve_method,
        timeout_s=row.timeout_s,
    )


def save_node(session: Session, node: NodeConfig, *, replace: bool = False) -> NodeConfig:
    """Add a node (or, with ``replace``, change the one of that name) after validating it."""
    node = validate(node)
    row = session.scalar(select(PacsNode).where(PacsNode.name == node.name))
    if row is not None and not replace:
        raise PacsError(f"A PACS node named {node.name!r} exists already; remove it first.")
    if row is None:
        row = PacsNode(name=node.name)
        session.add(row)
    for field in (
        "protocol", "aet", "host", "port", "our_aet", "our_port", "url", "auth", "username",
        "secret", "retrieve_method", "timeout_s",
    ):  # fmt: skip
        setattr(row, field, getattr(node, field))
    session.flush()
    return node


def list_nodes(session: Session) -> list[NodeConfig]:
    return [_to_config(r) for r in session.scalars(select(PacsNode).order_by(PacsNode.name))]


def get_node(session: Session, name: str) -> NodeConfig:
    row = session.scalar(select(PacsNode).where(PacsNode.name == name))
    if row is None:
        known = ", ".join(n.name for n in list_nodes(session)) or "none yet"
        raise PacsError(f"No PACS node named {name!r} (configured: {known}).")
    return _to_config(row)


def remove_node(session: Session, name: str) -> None:
    row = session.scalar(select(PacsNode).where(PacsNode.name == name))
    if row is None:
        raise PacsError(f"No PACS node named {name!r}.")
    session.delete(row)


__all__ = [
    "DEFAULT_OUR_AET",
    "NodeConfig",
    "PacsError",
    "get_node",
    "list_nodes",
    "remove_node",
    "save_node",
    "validate",
]
