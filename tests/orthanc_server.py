"""A real Orthanc PACS for tests, kept off the network.

Orthanc 1.10 binds every interface and has no bind-address option, so when we are root it runs
inside a private network namespace (only ``lo`` exists there): a small holder process owns the
namespace (so Orthanc can be killed and started again in it), and the test thread joins it with
``setns`` for the duration of the tests, then goes back. Without root it runs on free loopback
ports with ``RemoteAccessAllowed: false`` (the HTTP side refuses non-local clients; the DICOM
port is open on every interface for those seconds). ``AUDITDESK_TEST_NETNS=0`` forces that
fallback (to check it as root).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

CLONE_NEWNET = 0x40000000
ORTHANC_AET = "ORTHANC"
OUR_AET = "AUDITDESK"
PLUGIN_CANDIDATES = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
    "/usr/lib/orthanc/libOrthancDicomWeb.so",
)


def dicomweb_plugin() -> str | None:
    for path in PLUGIN_CANDIDATES:
        if Path(path).exists():
            return path
    try:
        listed = subprocess.run(
            ["dpkg", "-L", "orthanc-dicomweb"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return None
    return next((ln for ln in listed.splitlines() if "DicomWeb.so" in ln), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_us() -> None:
    """preexec_fn: the child gets SIGKILL when the test process dies (no stray Orthanc)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns failed")


class OrthancServer:
    """Start, stop, pause and load a throw-away Orthanc (storage in ``folder``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.private = (
            os.geteuid() == 0
            and shutil.which("unshare")
            and shutil.which("nsenter")
            and os.environ.get("AUDITDESK_TEST_NETNS", "1") != "0"  # 0: try the fallback
        )
        self.holder: subprocess.Popen[bytes] | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._home_ns: int | None = None
        if self.private:
            self.http_port, self.dicom_port, self.our_port = 8042, 4242, 11113
        else:
            self.http_port, self.dicom_port, self.our_port = (_free_port() for _ in range(3))
        plugin = dicomweb_plugin()
        config = {
            "Name": "AUDITDESK-TEST",
            "StorageDirectory": str(folder / "db"),
            "IndexDirectory": str(folder / "db"),
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomAet": ORTHANC_AET,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": True,  # a wrong called AE title is refused
            "DicomCheckModalityHost": False,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowGet": True,
            "DicomAlwaysAllowMove": True,
            "UnknownSopClassAccepted": True,
            "DicomModalities": {"auditdesk": [OUR_AET, "127.0.0.1", self.our_port]},
            "Plugins": [plugin] if plugin else [],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "StableAge": 1,
        }
        (folder / "orthanc.json").write_text(json.dumps(config))

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        cmd = ["Orthanc", str(self.folder / "orthanc.json")]
        if self.private:
            if self.holder is None:
                self.holder = subprocess.Popen(
                    ["unshare", "-n", "sh", "-c", "ip link set lo up && exec sleep 3600"],
                    preexec_fn=_die_with_us,
                )
                time.sleep(0.2)
                self._home_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
                ns = os.open(f"/proc/{self.holder.pid}/ns/net", os.O_RDONLY)
                try:
                    _setns(ns)  # this thread (and threads it starts) now live in the namespace
                finally:
                    os.close(ns)
            cmd = ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", *cmd]
        log = open(self.folder / "orthanc.log", "ab")  # noqa: SIM115 (lives with the process)
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_us
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.http}/system", timeout=1).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError(f"Orthanc did not start; see {self.folder / 'orthanc.log'}")

    def kill(self) -> None:
        """Stop abruptly, as a crashed or switched-off PACS."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def pause(self) -> None:
        """Freeze the process: connections are accepted by the kernel but never answered."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._home_ns is not None:
            _setns(self._home_ns)
            os.close(self._home_ns)
            self._home_ns = None
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()
            self.holder = None

    def upload(self, paths: list[Path]) -> None:
        """Store files over the REST API (POST /instances), as a modality would send them."""
        for path in paths:
            req = urllib.request.Request(
                f"{self.http}/instances", data=path.read_bytes(), method="POST"
            )
            req.add_header("Content-Type", "application/dicom")
            with urllib.request.urlopen(req, timeout=30) as resp:
                answer = json.loads(resp.read())
                assert answer.get("Status") in ("Success", "AlreadyStored"), answer


def running_orthanc(folder: Path, files: list[Path]):
    """Body of a module fixture: skip (fail under CI) without Orthanc, else start and load it."""
    from tests.conftest import skip_or_fail

    if shutil.which("Orthanc") is None:
        skip_or_fail("Orthanc is not installed (Debian: apt-get install orthanc orthanc-dicomweb)")
    if dicomweb_plugin() is None:
        skip_or_fail("the Orthanc DICOMweb plug-in is not installed (apt: orthanc-dicomweb)")
    server = OrthancServer(folder)
    try:
        server.start()
        server.upload(files)
        yield server
    finally:
        server.stop()
