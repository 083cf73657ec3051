"""``python -m auditdesk`` is the same as the ``auditdesk`` command."""

from auditdesk.cli import main

raise SystemExit(main())
