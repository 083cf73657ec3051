"""Settings > Database: this workstation's SQLite file (default) or the department's server.

Why a page of its own: the choice belongs to the workstation, not to the site's data, so it is
saved to ``settings.json`` at once (``db_settings``) and used from the next start. The password
never goes there: it is kept in the OS keyring or asked at every start. **Test connection**
connects with what is typed and reports the server version and the schema state in words.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from auditdesk.runtime import db_settings
from auditdesk.runtime.db_settings import DatabaseSettingsError, ServerSettings

PASSWORD_CHOICES = [
    ("keyring", "Keep it in this computer's keyring"),
    ("ask", "Ask at every start"),
]


class DatabasePage(QWidget):
    """The Database page: backend, server fields, password handling, Test connection, Save."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sqlite_radio = QRadioButton("SQLite file on this computer (default)")
        self.server_radio = QRadioButton("PostgreSQL server of the department")
        group = QButtonGroup(self)
        group.addButton(self.sqlite_radio)
        group.addButton(self.server_radio)
        self.host = QLineEdit()
        self.host.setPlaceholderText("server name, address, or socket folder (/run/postgresql)")
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setSpecialValueText("default (5432)")
        self.database = QLineEdit("auditdesk")
        self.user = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("not saved in the settings")
        self.password_mode = QComboBox()
        for key, label in PASSWORD_CHOICES:
            self.password_mode.addItem(label, key)
        form = QFormLayout()
        form.addRow("Host or socket", self.host)
        form.addRow("Port", self.port)
        form.addRow("Database", self.database)
        form.addRow("User", self.user)
        form.addRow("Password", self.password)
        form.addRow("Password kept", self.password_mode)
        self.server_fields = QWidget()
        self.server_fields.setLayout(form)
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setObjectName("databaseResult")
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.sqlite_radio)
        layout.addWidget(self.server_radio)
        layout.addWidget(self.server_fields)
        layout.addLayout(buttons)
        layout.addWidget(self.result)
        layout.addWidget(
            QLabel(
                "Changes take effect at the next start. 'auditdesk --db URL' and the "
                "AUDITDESK_DB variable override this choice."
            )
        )
        layout.addStretch(1)
        self.server_radio.toggled.connect(self._update_enabled)
        self._load()

    def _load(self) -> None:
        server = db_settings.load_server()
        (self.server_radio if server else self.sqlite_radio).setChecked(True)
        if server is not None:
            self.host.setText(server.host)
            self.port.setValue(server.port or 0)
            self.database.setText(server.database)
            self.user.setText(server.user)
            index = self.password_mode.findData(server.password_mode)
            self.password_mode.setCurrentIndex(max(0, index))
        self._update_enabled()

    def _update_enabled(self) -> None:
        self.server_fields.setEnabled(self.server_radio.isChecked())
        self.test_button.setEnabled(self.server_radio.isChecked())

    def server(self) -> ServerSettings:
        """The server as typed; raises ``DatabaseSettingsError`` with one sentence if incomplete."""
        server = ServerSettings(
            host=self.host.text().strip(),
            database=self.database.text().strip(),
            user=self.user.text().strip(),
            port=self.port.value() or None,
            password_mode=str(self.password_mode.currentData()),
        )
        server.validate()
        return server

    def _password(self, server: ServerSettings) -> str | None:
        typed = self.password.text()
        if typed:
            return typed
        if server.password_mode == "keyring":
            return db_settings.keyring_password(server)
        return None

    def test_connection(self) -> bool:
        """Connect with what is typed; show the server version and schema state, or why not."""
        from auditdesk.store.errors import DatabaseError
        from auditdesk.store.pg import check_server

        try:
            server = self.server()
            state = check_server(server.url(self._password(server)), connect_timeout=5)
        except (DatabaseSettingsError, DatabaseError) as exc:
            self.result.setText(str(exc))
            return False
        self.result.setText(state.describe())
        return True

    def save(self) -> bool:
        """Save the choice (and the password into the keyring when asked to)."""
        try:
            if self.sqlite_radio.isChecked():
                db_settings.save_server(None)
                self.result.setText("Saved: the SQLite file on this computer, from the next start.")
                return True
            server = self.server()
            if server.password_mode == "keyring" and self.password.text():
                db_settings.store_keyring_password(server, self.password.text())
            db_settings.save_server(server)
        except DatabaseSettingsError as exc:
            self.result.setText(str(exc))
            return False
        self.password.clear()
        self.result.setText(f"Saved: {server.url()} from the next start (no password stored here).")
        return True


class DatabaseSettingsDialog(QDialog):
    """File > Database server…: the Database page on its own."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Database")
        self.page = DatabasePage(self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.page)
        layout.addWidget(buttons)


def open_database_settings(parent: QWidget | None = None) -> DatabaseSettingsDialog:
    dialog = DatabaseSettingsDialog(parent)
    dialog.exec()
    return dialog


def ask_password_url(parent: QWidget | None = None) -> str | None:
    """At start, when the server's password is to be asked: the URL with it (None: cancelled)."""
    server = db_settings.needs_password_prompt()
    if server is None:
        return None
    password, ok = QInputDialog.getText(
        parent,
        "Database password",
        f"Password of {server.user} for the database {server.database} on {server.host}:",
        QLineEdit.EchoMode.Password,
    )
    return server.url(password) if ok else None
