"""Packaged resources (themes, icons), installed as ``auditdesk.resources``; see pyproject.toml."""
