"""The core never imports Qt: it must run in scripts, the CLI and worker processes."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "auditdesk.cli",
    "auditdesk.paths",
    "auditdesk.dicom.headers",
    "auditdesk.dicom.acquired",
    "auditdesk.dicom.sources",
    "auditdesk.dicom.index",
    "auditdesk.dicom.scan",
    "auditdesk.dicom.classify",
    "auditdesk.dicom.exam_facts",
    "auditdesk.dicom.header_text",
    "auditdesk.dicom.mammo_views",
    "auditdesk.dicom.view_text",
    "auditdesk.dicom.digitised",
    "auditdesk.dicom.view_reread",
    "auditdesk.store.view_confirm",
    "auditdesk.cli.views",
    "auditdesk.demo.film",
    "auditdesk.dicom.mr_image",
    "auditdesk.dicom.mr_roles",
    "auditdesk.dicom.mr_exclusions",
    "auditdesk.dicom.enhanced_frames",
    "auditdesk.dicom.bvalues",
    "auditdesk.dicom.codes",
    "auditdesk.dicom.pixels",
    "auditdesk.dicom.display",
    "auditdesk.dicom.calibration",
    "auditdesk.dicom.orientation",
    "auditdesk.dicom.loader",
    "auditdesk.store.db",
    "auditdesk.store.models",
    "auditdesk.store.catalog",
    "auditdesk.store.study_groups",
    "auditdesk.store.study_uid_map",
    "auditdesk.store.study_suggestions",
    "auditdesk.cli.studies",
    "auditdesk.demo.generator",
    "auditdesk.checklists.loader",
    "auditdesk.checklists.rules",
    "auditdesk.checklists.effective",
    "auditdesk.store.audits",
    "auditdesk.store.audit_rows",
    "auditdesk.store.audit_state",
    "auditdesk.store.audit_writes",
    "auditdesk.store.audit_recorder",
    "auditdesk.store.reviewers",
    "auditdesk.store.checklist_versions",
    "auditdesk.reading.auditing",
    "auditdesk.cli.audit",
    "auditdesk.exchange.audit_csv",
    "auditdesk.exchange.weekly",
    "auditdesk.exchange.exam_sheet",
    "auditdesk.cli.export",
    "auditdesk.exchange.package",
    "auditdesk.exchange.package_crypto",
    "auditdesk.exchange.site_key",
    "auditdesk.exchange.package_export",
    "auditdesk.exchange.package_import",
    "auditdesk.cli.package",
    "auditdesk.reading.hanging",
    "auditdesk.reading.worklist",
    "auditdesk.reading.workstation",
    "auditdesk.reading.window_presets",
    "auditdesk.reading.mr_layout",
    "auditdesk.reading.measure",
    "auditdesk.qi.measures",
    "auditdesk.qi.spc",
    "auditdesk.qi.spc_rules",
    "auditdesk.qi.week_range",
    "auditdesk.qi.weekly_chart",
    "auditdesk.qi.site",
    "auditdesk.qi.sampling",
    "auditdesk.cli.site",
    "auditdesk.cli.common",
    "auditdesk.review.agreement",
    "auditdesk.review.agreement_stats",
    "auditdesk.cli.agreement",
    "auditdesk.review.adjudication",
    "auditdesk.cli.adjudication",
    "auditdesk.runtime.selftest",
    "auditdesk.cli.selftest",
    "auditdesk.runtime.crash_report",
    "auditdesk.cli.pacs",
    "auditdesk.exchange.pacs.nodes",
    "auditdesk.exchange.pacs.query",
    "auditdesk.exchange.pacs.dimse",
    "auditdesk.exchange.pacs.web",
    "auditdesk.exchange.pacs.retrieve",
]

BLOCKER = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'PySide6', 'shiboken6', 'pyqtgraph', 'PyQt5', 'PyQt6'}:
            raise ImportError('core module imported Qt: ' + name)
        return None
sys.meta_path.insert(0, Block())
import importlib
for mod in sys.argv[1:]:
    importlib.import_module(mod)
print('ok')
"""


def test_core_imports_without_qt() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER, *CORE_MODULES], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
