"""DICOMweb with dicomweb-client: QIDO-RS for queries and instance lists, WADO-RS for files.

Instances are asked for in their stored transfer syntax (``transfer-syntax=*``), so a JPEG 2000
mammogram arrives as JPEG 2000, as it would over DIMSE. Basic or bearer authentication comes
from the node.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import requests
from pydicom import dcmwrite
from pydicom.dataset import Dataset

from auditdesk.exchange.pacs.nodes import NodeConfig, PacsError
from auditdesk.exchange.pacs.transfer import InstanceRef, Sink, TransferCancelledError

# dicomweb-client logs request URLs, which carry study UIDs: keep them out of any log file.
logging.getLogger("dicomweb_client").setLevel(logging.WARNING)

# QIDO attribute names for the study-level fields we ask for.
STUDY_FIELDS = (
    "StudyDate",
    "StudyTime",
    "ModalitiesInStudy",
    "StudyDescription",
    "NumberOfStudyRelatedInstances",
    "PatientID",
    "PatientName",
    "AccessionNumber",
    "OperatorsName",
)


def _client(node: NodeConfig) -> Any:
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    if node.auth == "basic":
        session.auth = (node.username or "", node.secret or "")
    elif node.auth == "bearer":
        session.headers["Authorization"] = f"Bearer {node.secret}"
    client = DICOMwebClient(str(node.url), session=session, timeout=node.timeout_s)
    client.set_http_retry_params(retry=False)
    return client


def _call(node: NodeConfig, what: str, func: Callable[[], Any]) -> Any:
    try:
        return func()
    except requests.exceptions.Timeout:
        raise PacsError(
            f"DICOMweb server {node.url} did not answer the {what} within {node.timeout_s:g} s."
        ) from None
    except requests.exceptions.ConnectionError:
        raise PacsError(
            f"Could not reach DICOMweb server {node.url} for the {what} "
            "(connection refused, lost or host unreachable)."
        ) from None
    except requests.exceptions.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        hint = " (check the user name and password or token)" if code in (401, 403) else ""
        raise PacsError(
            f"DICOMweb server {node.url} refused the {what} with HTTP {code}{hint}."
        ) from None
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise PacsError(f"DICOMweb {what} at {node.url} failed: {exc}") from None


PAGE = 200


def _search_all(node: NodeConfig, what: str, search: Callable[..., list[dict]]) -> list[dict]:
    """Page through QIDO results with limit/offset ourselves: some servers (Orthanc's DICOMweb
    plug-in 1.7) ignore ``offset`` without ``limit``, which makes dicomweb-client's
    ``get_remaining`` loop for ever."""
    out: list[dict] = []
    seen: set[str] = set()
    while True:
        page = _call(node, what, lambda: search(limit=PAGE, offset=len(out)))
        fresh = [item for item in page if json.dumps(item, sort_keys=True) not in seen]
        seen.update(json.dumps(item, sort_keys=True) for item in fresh)
        out.extend(fresh)
        if len(page) < PAGE or not fresh:
            return out


def echo(node: NodeConfig) -> float:
    started = time.monotonic()
    _call(node, "test query", lambda: _client(node).search_for_studies(limit=1))
    return time.monotonic() - started


def find_studies(node: NodeConfig, identifier: Dataset) -> list[Dataset]:
    filters: dict[str, Any] = {}
    for keyword in ("StudyInstanceUID", "StudyDate", "ModalitiesInStudy", "PatientID"):
        value = str(identifier.get(keyword, "") or "")
        if value:
            filters[keyword] = value
    accession = str(identifier.get("AccessionNumber", "") or "")
    if accession:
        filters["AccessionNumber"] = accession
    client = _client(node)
    found = _search_all(
        node,
        "study query",
        lambda **page: client.search_for_studies(
            fields=list(STUDY_FIELDS), search_filters=filters, **page
        ),
    )
    return [Dataset.from_json(item) for item in found]


def list_instances(node: NodeConfig, study_uid: str) -> list[InstanceRef]:
    client = _client(node)
    found = _search_all(
        node,
        "image query",
        lambda **page: client.search_for_instances(
            study_instance_uid=study_uid, fields=["SOPClassUID"], **page
        ),
    )
    refs = []
    for item in found:
        ds = Dataset.from_json(item)
        sop = str(ds.get("SOPInstanceUID", "") or "")
        series = str(ds.get("SeriesInstanceUID", "") or "")
        if sop and series:
            refs.append(InstanceRef(study_uid, series, sop, str(ds.get("SOPClassUID", "") or "")))
    return refs


def fetch(
    node: NodeConfig,
    instances: list[InstanceRef],
    sink: Sink,
    *,
    done: Callable[[InstanceRef], None],
    cancel: Callable[[], bool],
) -> None:
    """WADO-RS, one instance per request, in the stored transfer syntax."""
    client = _client(node)
    for ref in instances:
        if cancel():
            raise TransferCancelledError()
        ds = _call(node, "image transfer", partial(_retrieve_one, client, ref))
        buf = io.BytesIO()
        dcmwrite(buf, ds, enforce_file_format=True)
        sink(ref.study_uid, ref.sop_uid, buf.getvalue())
        done(ref)


def _retrieve_one(client: Any, ref: InstanceRef) -> Any:
    """One instance in the transfer syntax it is stored in (WADO-RS ``*``)."""
    return client.retrieve_instance(
        ref.study_uid, ref.series_uid, ref.sop_uid, media_types=(("application/dicom", "*"),)
    )


__all__ = ["echo", "fetch", "find_studies", "list_instances"]
