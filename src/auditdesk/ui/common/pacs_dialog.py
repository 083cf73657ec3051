"""File → Import from PACS…: pick a node, filter, list the studies, retrieve selected or all
with a progress bar and Cancel; and the PACS nodes dialog with a **Test** button (issue 19).

Every network call runs in a ``PacsJob`` thread so the window stays live; the rules (node
validation, queries, resume-safe retrieval) live in ``auditdesk.exchange.pacs``. The list shows the
site's pseudonymous exam key, not UIDs or patient identifiers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from auditdesk.exchange.pacs.nodes import DEFAULT_OUR_AET, NodeConfig, PacsError, list_nodes
from auditdesk.exchange.pacs.query import StudyMatch, StudyQuery, echo, query_studies
from auditdesk.exchange.pacs.retrieve import RetrieveResult, retrieve_studies
from auditdesk.qi.site import exam_key, site_secret
from auditdesk.store.db import Database
from auditdesk.ui.common import make_table, pydate, qdate, table_item


class PacsJob(QThread):
    """Runs one PACS call off the GUI thread; ``cancel()`` is polled between images."""

    progressed = Signal(int, int)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, work: Callable[[PacsJob], Any]) -> None:
        super().__init__()
        self._work = work
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def run(self) -> None:
        try:
            result = self._work(self)
        except PacsError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # report, never crash the window
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.done.emit(result)


def keep_until_finished(owner: QWidget, job: PacsJob) -> None:
    """Hold a reference to ``job`` until its thread has ended: a QThread object collected while
    its thread still runs aborts the process (the ``done`` signal comes before ``finished``)."""
    running: list[PacsJob] = owner.__dict__.setdefault("_running_jobs", [])
    running.append(job)
    job.finished.connect(lambda: running.remove(job) if job in running else None)


def wait_for_jobs(owner: QWidget) -> None:
    for job in list(owner.__dict__.get("_running_jobs", [])):
        job.wait()


def _nodes(db: Database) -> list[NodeConfig]:
    with db.session() as session:
        return list_nodes(session)


class PacsNodesDialog(QDialog):
    """Add, change, remove and test PACS nodes."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PACS nodes")
        self.db = db
        self.job: PacsJob | None = None
        self.list = QListWidget()
        self.list.setObjectName("pacs_nodes")
        self.list.currentRowChanged.connect(self._show)
        self.name = QLineEdit()
        self.protocol = QComboBox()
        self.protocol.addItem("DIMSE (C-FIND / C-GET or C-MOVE)", "dimse")
        self.protocol.addItem("DICOMweb (QIDO-RS / WADO-RS)", "dicomweb")
        self.protocol.currentIndexChanged.connect(self._protocol_changed)
        self.aet, self.host = QLineEdit(), QLineEdit()
        self.port, self.our_port = QSpinBox(), QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(104)
        self.our_port.setRange(0, 65535)
        self.our_port.setSpecialValueText("none")
        self.our_aet = QLineEdit(DEFAULT_OUR_AET)
        self.method = QComboBox()
        self.method.addItem("C-GET (no firewall opening)", "get")
        self.method.addItem("C-MOVE to our storage port", "move")
        self.url, self.user, self.password = QLineEdit(), QLineEdit(), QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.bearer = QCheckBox("the password field holds a bearer token")
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(1, 3600)
        self.timeout.setValue(30)
        self.timeout.setSuffix(" s")
        form = QFormLayout()
        for label, widget in (
            ("Name", self.name), ("Protocol", self.protocol), ("PACS AE title", self.aet),
            ("Host", self.host), ("Port", self.port), ("Our AE title", self.our_aet),
            ("Our storage port", self.our_port), ("Retrieve by", self.method),
            ("DICOMweb URL", self.url), ("User", self.user), ("Password / token", self.password),
            ("", self.bearer), ("Timeout", self.timeout),
        ):  # fmt: skip
            form.addRow(label, widget)
        self.status = QLabel("")
        self.status.setObjectName("pacs_test_status")
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.remove_button = QPushButton("Remove")
        self.test_button = QPushButton("Test")
        self.save_button.clicked.connect(self.save)
        self.remove_button.clicked.connect(self.remove)
        self.test_button.clicked.connect(self.test)
        buttons = QHBoxLayout()
        for b in (self.save_button, self.remove_button, self.test_button):
            buttons.addWidget(b)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addLayout(buttons)
        right.addWidget(self.status)
        top = QHBoxLayout()
        top.addWidget(self.list, 1)
        top.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(close)
        self._protocol_changed()
        self.reload()

    def done(self, result: int) -> None:
        wait_for_jobs(self)  # a Test still running must end before the dialog goes
        super().done(result)

    def reload(self) -> None:
        self.nodes = _nodes(self.db)
        self.list.clear()
        for node in self.nodes:
            self.list.addItem(node.describe())

    def _protocol_changed(self) -> None:
        web = self.protocol.currentData() == "dicomweb"
        for w in (self.aet, self.host, self.port, self.our_aet, self.our_port, self.method):
            w.setEnabled(not web)
        for w in (self.url, self.user, self.password, self.bearer):
            w.setEnabled(web)

    def _show(self, row: int) -> None:
        if not (0 <= row < len(self.nodes)):
            return
        n = self.nodes[row]
        self.name.setText(n.name)
        self.protocol.setCurrentIndex(self.protocol.findData(n.protocol))
        self.aet.setText(n.aet or "")
        self.host.setText(n.host or "")
        self.port.setValue(n.port or 104)
        self.our_aet.setText(n.our_aet)
        self.our_port.setValue(n.our_port or 0)
        self.method.setCurrentIndex(self.method.findData(n.retrieve_method))
        self.url.setText(n.url or "")
        self.user.setText(n.username or "")
        self.password.setText(n.secret or "")
        self.bearer.setChecked(n.auth == "bearer")
        self.timeout.setValue(n.timeout_s)

    def node(self) -> NodeConfig:
        """The node as the form describes it (validated on save)."""
        if self.protocol.currentData() == "dicomweb":
            secret = self.password.text() or None
            auth = (
                "bearer" if self.bearer.isChecked() else ("basic" if self.user.text() else "none")
            )
            return NodeConfig(
                name=self.name.text().strip(),
                protocol="dicomweb",
                url=self.url.text().strip().rstrip("/"),
                auth=auth,
                username=self.user.text().strip() or None,
                secret=secret if auth != "none" else None,
                timeout_s=self.timeout.value(),
            )
        return NodeConfig(
            name=self.name.text().strip(),
            protocol="dimse",
            aet=self.aet.text().strip(),
            host=self.host.text().strip(),
            port=self.port.value(),
            our_aet=self.our_aet.text().strip() or DEFAULT_OUR_AET,
            our_port=self.our_port.value() or None,
            retrieve_method=self.method.currentData(),
            timeout_s=self.timeout.value(),
        )

    def save(self) -> bool:
        from auditdesk.exchange.pacs.nodes import save_node

        try:
            with self.db.transaction() as session:
                node = save_node(session, self.node(), replace=True)
        except PacsError as exc:
            self.status.setText(str(exc))
            return False
        self.status.setText(f"Saved {node.describe()}")
        self.reload()
        return True

    def remove(self) -> None:
        from auditdesk.exchange.pacs.nodes import remove_node

        try:
            with self.db.transaction() as session:
                remove_node(session, self.name.text().strip())
        except PacsError as exc:
            self.status.setText(str(exc))
            return
        self.status.setText(f"Removed {self.name.text().strip()}.")
        self.reload()

    def test(self) -> PacsJob | None:
        """C-ECHO (or a QIDO ping) with the settings as typed, in a thread."""
        from auditdesk.exchange.pacs.nodes import validate

        try:
            node = validate(self.node())
        except PacsError as exc:
            self.status.setText(str(exc))
            return None
        self.status.setText(f"Testing {node.address}…")
        self.test_button.setEnabled(False)
        job = PacsJob(lambda _job: echo(node))
        job.done.connect(
            lambda s: self.status.setText(f"OK: {node.address} answered in {s * 1000:.0f} ms.")
        )
        job.failed.connect(self.status.setText)
        job.finished.connect(lambda: self.test_button.setEnabled(True))
        self.job = job
        keep_until_finished(self, job)
        job.start()
        return job


class PacsImportDialog(QDialog):
    """Query a node with filters, then retrieve the selected studies (or all) and index them."""

    imported = Signal(object)  # RetrieveResult, after the index was updated

    COLUMNS = ("Exam", "Date", "Modalities", "Images", "Technologist", "Description")

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import from PACS")
        self.resize(820, 520)
        self.db = db
        self.job: PacsJob | None = None
        self.matches: list[StudyMatch] = []
        self.node_box = QComboBox()
        self.node_box.setObjectName("pacs_node")
        nodes_button = QPushButton("PACS nodes…")
        nodes_button.clicked.connect(self.edit_nodes)
        today = dt.date.today()
        self.any_date = QCheckBox("any date")
        self.date_from = QDateEdit(qdate(today - dt.timedelta(days=7)))
        self.date_to = QDateEdit(qdate(today))
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.any_date.toggled.connect(lambda on: self._dates_enabled(not on))
        self.modality = QComboBox()
        for text, data in (("any", None), ("MG", "MG"), ("MR", "MR")):
            self.modality.addItem(text, data)
        self.technologist = QLineEdit()
        self.technologist.setPlaceholderText("part of Operators' Name (where the PACS returns it)")
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(self.search)
        row1 = QHBoxLayout()
        row1.addWidget(QLabel("PACS"))
        row1.addWidget(self.node_box, 1)
        row1.addWidget(nodes_button)
        row2 = QHBoxLayout()
        for w in (
            QLabel("From"), self.date_from, QLabel("to"), self.date_to, self.any_date,
            QLabel("Modality"), self.modality, QLabel("Technologist"), self.technologist,
            self.search_button,
        ):  # fmt: skip
            row2.addWidget(w)
        # Draw the week's sample from the listed studies (auditdesk.exchange.pacs.sample), then
        # retrieve only the selected ones.
        self.sample_n = QSpinBox()
        self.sample_n.setRange(1, 1000)
        self.sample_n.setValue(5)
        self.sample_mode = QComboBox()
        self.sample_mode.addItem("per technologist", "per_technologist")
        self.sample_mode.addItem("overall", "overall")
        self.sample_seed = QLineEdit()
        self.sample_seed.setPlaceholderText("seed (blank: random)")
        self.sample_button = QPushButton("Draw sample")
        self.sample_button.clicked.connect(self.draw_sample)
        row_sample = QHBoxLayout()
        for w in (
            QLabel("Sample"), self.sample_n, self.sample_mode, self.sample_seed,
            self.sample_button,
        ):  # fmt: skip
            row_sample.addWidget(w)
        row_sample.addStretch(1)
        self.table = make_table(self.COLUMNS, "pacs_studies")
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.progress = QProgressBar()
        self.progress.setObjectName("pacs_progress")
        self.status = QLabel("")
        self.status.setObjectName("pacs_status")
        self.status.setWordWrap(True)
        self.retrieve_selected_button = QPushButton("Retrieve selected")
        self.retrieve_all_button = QPushButton("Retrieve all")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.retrieve_selected_button.clicked.connect(lambda: self.retrieve(selected_only=True))
        self.retrieve_all_button.clicked.connect(lambda: self.retrieve(selected_only=False))
        self.cancel_button.clicked.connect(self.cancel)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        row3 = QHBoxLayout()
        for b in (self.retrieve_selected_button, self.retrieve_all_button, self.cancel_button):
            row3.addWidget(b)
        row3.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        for item in (row1, row2, row_sample):
            layout.addLayout(item)
        layout.addWidget(self.table, 1)
        layout.addLayout(row3)
        layout.addWidget(self.status)
        layout.addWidget(close)
        self.reload_nodes()

    def _dates_enabled(self, on: bool) -> None:
        self.date_from.setEnabled(on)
        self.date_to.setEnabled(on)

    def reload_nodes(self) -> None:
        current = self.node_box.currentText()
        self.nodes = {n.name: n for n in _nodes(self.db)}
        self.node_box.clear()
        self.node_box.addItems(list(self.nodes))
        if current in self.nodes:
            self.node_box.setCurrentText(current)
        if not self.nodes:
            self.status.setText("No PACS node yet: add one with “PACS nodes…”.")

    def edit_nodes(self) -> None:
        dialog = PacsNodesDialog(self.db, self)
        dialog.finished.connect(lambda _code: self.reload_nodes())
        dialog.open()

    def _node(self) -> NodeConfig | None:
        node = self.nodes.get(self.node_box.currentText())
        if node is None:
            self.status.setText("Choose a PACS node first (or add one with “PACS nodes…”).")
        return node

    def _busy(self, busy: bool) -> None:
        for b in (self.search_button, self.retrieve_selected_button, self.retrieve_all_button):
            b.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def query(self) -> StudyQuery:
        dated = not self.any_date.isChecked()
        return StudyQuery(
            modality=self.modality.currentData(),
            date_from=pydate(self.date_from.date()) if dated else None,
            date_to=pydate(self.date_to.date()) if dated else None,
        )

    def search(self) -> PacsJob | None:
        node = self._node()
        if node is None:
            return None
        try:
            query = self.query()
            query.date_range()
        except PacsError as exc:
            self.status.setText(str(exc))
            return None
        tech = self.technologist.text().strip().lower()
        db = self.db

        def work(_job: PacsJob) -> list[StudyMatch]:
            matches = query_studies(node, query)
            with db.transaction() as session:
                secret = site_secret(session)
            for m in matches:
                m.key = exam_key(secret, m.study_uid)
            if tech:
                matches = [m for m in matches if any(tech in o.lower() for o in m.operators)]
            return matches

        self.status.setText(f"Searching {node.name}…")
        return self._start(work, self._show_matches)

    def _show_matches(self, matches: list[StudyMatch]) -> None:
        self.matches = matches
        self.table.setRowCount(0)
        for m in matches:
            row = self.table.rowCount()
            self.table.insertRow(row)
            values = (
                m.key, m.date.isoformat() if m.date else "", ",".join(m.modalities),
                "" if m.n_images is None else m.n_images, ", ".join(m.operators) or "–",
                m.description,
            )  # fmt: skip
            for col, value in enumerate(values):
                self.table.setItem(row, col, table_item(value, number=col == 3))
        self.status.setText(f"{len(matches)} studies found.")

    def preset_sample(self, week_first: dt.date, *, n: int, mode: str, seed: str = "") -> None:
        """Set up for the Draw-a-week's-sample dialog: that week's mammograms, its N/mode/seed."""
        self.any_date.setChecked(False)
        self.date_from.setDate(qdate(week_first))
        self.date_to.setDate(qdate(week_first + dt.timedelta(days=6)))
        self.modality.setCurrentIndex(self.modality.findData("MG"))
        self.sample_n.setValue(n)
        self.sample_mode.setCurrentIndex(max(0, self.sample_mode.findData(mode)))
        self.sample_seed.setText(seed)
        self.status.setText(
            "Search, then “Draw sample” and “Retrieve selected” to fetch only the sampled exams."
        )

    def draw_sample(self) -> list[StudyMatch]:
        """Select a seeded random sample of the listed studies (shown with its seed)."""
        from auditdesk.exchange.pacs.sample import draw_from_matches

        text = self.sample_seed.text().strip()
        if text and not text.isdigit():
            self.status.setText(f"The seed must be a whole number, not {text!r}.")
            return []
        seed, picked = draw_from_matches(
            self.matches,
            n=self.sample_n.value(),
            mode=self.sample_mode.currentData(),
            seed=int(text) if text else None,
        )
        self.sample_seed.setText(str(seed))
        self.table.clearSelection()
        mode = QAbstractItemView.SelectionMode
        self.table.setSelectionMode(mode.MultiSelection)
        for m in picked:
            self.table.selectRow(self.matches.index(m))
        self.table.setSelectionMode(mode.ExtendedSelection)
        self.status.setText(
            f"Sampled {len(picked)} of {len(self.matches)} studies (seed {seed}); "
            "“Retrieve selected” fetches only these."
        )
        return picked

    def retrieve(self, *, selected_only: bool) -> PacsJob | None:
        node = self._node()
        if node is None:
            return None
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        chosen = [self.matches[r] for r in rows] if selected_only else list(self.matches)
        if not chosen:
            self.status.setText("Nothing to retrieve: search, then select studies or use “all”.")
            return None
        db = self.db

        def work(job: PacsJob) -> RetrieveResult:
            return retrieve_studies(
                db,
                node,
                chosen,
                progress=lambda d, t, _k: job.progressed.emit(d, t),
                cancel=lambda: job.cancelled,
            )

        self.status.setText(f"Retrieving {len(chosen)} studies from {node.name}…")
        return self._start(work, self._retrieved)

    def _retrieved(self, result: RetrieveResult) -> None:
        ok = [s for s in result.studies if s.indexed]
        lines = [f"{len(ok)} of {len(result.studies)} studies retrieved and indexed."]
        if result.cancelled:
            lines.append("Cancelled: unfinished studies are not indexed; retrieve again to resume.")
        lines += [f"{s.key}: {s.error}" for s in result.failed]
        self.status.setText("\n".join(lines))
        self.imported.emit(result)

    def _start(self, work: Callable[[PacsJob], Any], on_done: Callable[[Any], None]) -> PacsJob:
        job = PacsJob(work)
        job.progressed.connect(self._progress)
        job.done.connect(on_done)
        job.failed.connect(self.status.setText)
        job.finished.connect(lambda: self._busy(False))
        self._busy(True)
        self.progress.setRange(0, 0)
        self.progress.resetFormat()
        job.finished.connect(self._stop_busy_bar)
        self.job = job
        keep_until_finished(self, job)
        job.start()
        return job

    def _stop_busy_bar(self) -> None:
        """A search leaves the bar empty; a retrieve leaves its final count showing."""
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total} images")

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Cancelling after the current image…")

    def closeEvent(self, event: Any) -> None:
        self.cancel()
        wait_for_jobs(self)
        super().closeEvent(event)

    def reject(self) -> None:
        self.cancel()
        wait_for_jobs(self)
        super().reject()


__all__ = ["PacsImportDialog", "PacsJob", "PacsNodesDialog"]
