"""DIMSE with pynetdicom: C-ECHO, study/series/image C-FIND, and retrieval by C-GET (the PACS
sends over our own association, no firewall opening needed) or C-MOVE to a storage SCP we run
on ``our_port`` for the duration of the transfer.

Each storage SOP class is offered once per transfer syntax (one syntax per presentation
context): with several syntaxes in one context Orthanc picks one and then cannot send a JPEG
2000 file over it (reference/env-notes.md, Orthanc section). Received files are passed on as
complete Part 10 bytes, exactly as the PACS encoded them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    JPEG2000,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    RLELossless,
)
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, build_role, evt
from pynetdicom.association import Association

# pynetdicom builds these SOP class names when the module is imported: mypy cannot see them.
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalMammographyXRayImageStorageForProcessing,
    MRImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from auditdesk.exchange.pacs.nodes import NodeConfig, PacsError
from auditdesk.exchange.pacs.transfer import InstanceRef, Sink, TransferCancelledError

logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)  # we report failures ourselves

# One presentation context per (SOP class, transfer syntax); JPEG 2000 included.
TRANSFER_SYNTAXES = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEG2000,
    JPEGLosslessSV1,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    RLELossless,
)
MAX_CONTEXTS = 128
FALLBACK_SOP_CLASSES = (
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalMammographyXRayImageStorageForProcessing,
    MRImageStorage,
)
PENDING = (0xFF00, 0xFF01)


def _ae(node: NodeConfig) -> AE:
    ae = AE(ae_title=node.our_aet)
    ae.acse_timeout = node.timeout_s
    ae.dimse_timeout = node.timeout_s
    ae.network_timeout = node.timeout_s
    ae.connection_timeout = node.timeout_s
    return ae


def _associate(ae: AE, node: NodeConfig, **kwargs: Any) -> Association:
    started = time.monotonic()
    assoc = ae.associate(str(node.host), int(node.port or 0), ae_title=str(node.aet), **kwargs)
    if assoc.is_established:
        return assoc
    if assoc.is_rejected:
        raise PacsError(
            f"PACS {node.address} refused the association: check the PACS AE title "
            f"({node.aet!r}) and that the PACS knows our AE title ({node.our_aet!r})."
        )
    if time.monotonic() - started >= node.timeout_s * 0.9:
        raise PacsError(
            f"PACS {node.address} did not answer within {node.timeout_s:g} s "
            "(is it running and is the port right?)."
        )
    if assoc.is_aborted:
        raise PacsError(f"PACS {node.address} aborted the association when we connected.")
    raise PacsError(
        f"Could not connect to PACS {node.address} (connection refused or host unreachable)."
    )


def _status_error(node: NodeConfig, status: Dataset, what: str) -> PacsError:
    if not status:  # pynetdicom's empty status: the association ended or timed out
        return PacsError(
            f"PACS {node.address} stopped answering during the {what} "
            f"(connection lost or no answer within {node.timeout_s:g} s)."
        )
    code = int(status.get("Status", 0xFFFF))
    comment = str(status.get("ErrorComment", "") or "").strip()
    extra = f": {comment}" if comment else ""
    return PacsError(f"PACS {node.address} refused the {what} (status 0x{code:04X}){extra}.")


def echo(node: NodeConfig) -> float:
    ae = _ae(node)
    ae.add_requested_context(Verification)
    started = time.monotonic()
    assoc = _associate(ae, node)
    try:
        status = assoc.send_c_echo()
        if not status or int(status.Status) != 0:
            raise _status_error(node, status, "echo")
    finally:
        assoc.release()
    return time.monotonic() - started


def _find(node: NodeConfig, identifier: Dataset, what: str) -> list[Dataset]:
    ae = _ae(node)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = _associate(ae, node)
    out: list[Dataset] = []
    try:
        for status, ds in assoc.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind):
            if not status or int(status.Status) not in (0x0000, *PENDING):
                raise _status_error(node, status, what)
            if int(status.Status) in PENDING and ds is not None:
                out.append(ds)
    finally:
        if assoc.is_established:
            assoc.release()
    return out


def find_studies(node: NodeConfig, identifier: Dataset) -> list[Dataset]:
    return _find(node, identifier, "study query")


def list_instances(node: NodeConfig, study_uid: str) -> list[InstanceRef]:
    """Every instance of a study: series level, then image level per series (hierarchical)."""
    q = Dataset()
    q.QueryRetrieveLevel = "SERIES"
    q.StudyInstanceUID = study_uid
    q.SeriesInstanceUID = ""
    refs: list[InstanceRef] = []
    for series in _find(node, q, "series query"):
        series_uid = str(series.get("SeriesInstanceUID", "") or "")
        if not series_uid:
            continue
        q = Dataset()
        q.QueryRetrieveLevel = "IMAGE"
        q.StudyInstanceUID = study_uid
        q.SeriesInstanceUID = series_uid
        q.SOPInstanceUID = ""
        q.SOPClassUID = ""
        for image in _find(node, q, "image query"):
            sop = str(image.get("SOPInstanceUID", "") or "")
            if sop:
                refs.append(
                    InstanceRef(study_uid, series_uid, sop, str(image.get("SOPClassUID", "") or ""))
                )
    return refs


def _file_bytes(event: Any) -> bytes:
    """The received instance as a Part 10 file, keeping the PACS's own encoding."""
    buf = DicomBytesIO()
    buf.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buf, event.file_meta, enforce_standard=True)
    buf.write(event.request.DataSet.getvalue())
    return buf.getvalue()


def _store_handler(sink: Sink, errors: list[str]) -> Callable[[Any], int]:
    def handle(event: Any) -> int:
        try:
            ds = event.dataset
            sink(str(ds.StudyInstanceUID), str(ds.SOPInstanceUID), _file_bytes(event))
        except Exception as exc:  # the PACS gets a failure status; we report it
            errors.append(str(exc))
            return 0xA700
        return 0x0000

    return handle


def _instance_identifier(ref: InstanceRef) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "IMAGE"
    ds.StudyInstanceUID = ref.study_uid
    ds.SeriesInstanceUID = ref.series_uid
    ds.SOPInstanceUID = ref.sop_uid
    return ds


def _sop_classes(instances: Iterable[InstanceRef]) -> list[str]:
    classes = sorted({i.sop_class for i in instances if i.sop_class})
    return classes or [str(c) for c in FALLBACK_SOP_CLASSES]


def fetch(
    node: NodeConfig,
    instances: list[InstanceRef],
    sink: Sink,
    *,
    done: Callable[[InstanceRef], None],
    cancel: Callable[[], bool],
) -> None:
    """Retrieve ``instances`` one by one (C-GET or C-MOVE); ``done`` after each arrived.

    Instance by instance so progress is exact, Cancel takes effect within one image and an
    interrupted transfer resumes where it stopped.
    """
    if not instances:
        return
    errors: list[str] = []
    handler = _store_handler(sink, errors)
    ae = _ae(node)
    server = None
    if node.retrieve_method == "move":
        model = StudyRootQueryRetrieveInformationModelMove
        ae.add_requested_context(model)
        for cx in AllStoragePresentationContexts:
            if cx.abstract_syntax is not None:
                ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        try:
            server = ae.start_server(
                ("", int(node.our_port or 0)),
                block=False,
                evt_handlers=[(evt.EVT_C_STORE, handler)],
            )
        except OSError as exc:
            raise PacsError(
                f"Could not open our storage port {node.our_port} for C-MOVE: {exc.strerror}."
            ) from exc
        assoc = _associate(ae, node)
    else:
        model = StudyRootQueryRetrieveInformationModelGet
        ae.add_requested_context(model)
        classes = _sop_classes(instances)
        per_class = max(1, min(len(TRANSFER_SYNTAXES), (MAX_CONTEXTS - 1) // len(classes)))
        roles = []
        for sop_class in classes[: MAX_CONTEXTS - 1]:
            for ts in TRANSFER_SYNTAXES[:per_class]:
                ae.add_requested_context(sop_class, ts)
            roles.append(build_role(sop_class, scp_role=True))
        assoc = _associate(ae, node, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, handler)])
    lock = threading.Lock()
    try:
        for ref in instances:
            if cancel():
                raise TransferCancelledError()
            identifier = _instance_identifier(ref)
            if node.retrieve_method == "move":
                responses = assoc.send_c_move(identifier, node.our_aet, model)
            else:
                responses = assoc.send_c_get(identifier, model)
            for status, _ds in responses:
                if not status:
                    raise _status_error(node, status, "transfer")
                code = int(status.Status)
                if code in PENDING:
                    continue
                failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
                if errors:
                    raise PacsError(f"Could not save an image from {node.address}: {errors[0]}")
                if code != 0x0000 or failed:
                    raise _status_error(node, status, "transfer")
            with lock:
                done(ref)
    finally:
        if assoc.is_established:
            assoc.release()
        if server is not None:
            server.shutdown()


__all__ = ["TRANSFER_SYNTAXES", "echo", "fetch", "find_studies", "list_instances"]
