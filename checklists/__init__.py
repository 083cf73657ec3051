"""The shipped checklist files, installed as ``auditdesk.checklist_files`` (see pyproject.toml)."""
