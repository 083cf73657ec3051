"""PySide6 + pyqtgraph GUI over the core. Widgets hold no business rules."""
