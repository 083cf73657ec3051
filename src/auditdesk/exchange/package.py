"""Reviewer packages: carrying one workstation's audits to another workstation of the same site.

A reviewer audits on their own workstation (its own database); the team leader or QI coach
merges everybody's audits on theirs, to see all reads of an exam side by side and to compute
reviewer agreement. No Qt here: the CLI (``auditdesk package``), the GUI and tests use it.

This module keeps the public names; the code is split by responsibility into ``package_crypto``
(format constants, fingerprint, image key, canonical JSON, signature, atomic write), ``site_key``,
``package_export`` and ``package_import``.

Why it is shaped like this:

* **One site, one secret.** Exams are matched across workstations by their pseudonymous exam
  key, ``site.exam_key(site_secret, study_uid)``; the same study has the same key only where the
  site secret is the same. So the workstations of one site share the secret through a *site-key
  file* (:func:`export_site_key` / :func:`import_site_key`: JSON with the site id, the site name
  and the secret in base64; keep it like a password). Importing a key refuses to replace a
  different secret once audits exist on that workstation — exam keys already handed out in its
  exports (per-exam sheets, packages) were made with the old secret and would no longer match
  later ones — unless forced. Images are matched the same way, by a keyed hash of the SOP
  Instance UID (``IM-…``), so a measurement can be drawn again on the right image.
* **No patient data, no UIDs.** A package names exams and images only by these keyed hashes:
  no patient names, IDs, birth dates, accession numbers or DICOM UIDs. Measurement geometry is
  stored without its SOP Instance UID. As a last guard, export refuses a package whose free text
  (comments, override reasons, text answers) contains an identifier of the exam it describes.
* **Signed, so a changed file is noticed.** The file (``.adpkg``) is gzip'd JSON
  ``{"payload": …, "signature": …}``. The payload is ``{kind: "auditdesk-package", format: 1,
  site_id, site_name, site_key_fingerprint, exported_by: {workstation, reviewers}, created_at,
  reviewers: {name: {role, initials}}, checklist_versions: {content_hash: {checklist_id,
  version, title, source_text}}, audits: […]}``; the signature is HMAC-SHA256 under the site
  secret of the payload's canonical JSON (sorted keys, no spaces, UTF-8). The fingerprint is the
  first 16 hex digits of SHA-256 of the secret: it tells "another site" apart from "changed
  after export" without revealing the secret. Import checks, in this order: readable gzip and
  JSON, the format version, the fingerprint, the signature, the shape, then every answer against
  its checklist text (``package_check``: one invalid answer refuses the package, nothing is
  written); each failure is one sentence.
* **Each audit entry** carries ``exam_key``, ``reviewer`` {name, role, initials}, ``checklist``
  (content hash; the full checklist text travels once per version, so scores are recomputed
  under exactly the rules used), ``purpose`` ("review", "consensus", "reference"), ``status``,
  ``comment``, ``learning_opportunity``, ``blinded``, ``started_at``, ``updated_at``,
  ``completed_at``, ``answers`` [{key, value, reason_code, source, answered_by, answered_at}],
  ``measurements`` [{key, value_mm, value_px, calibration_source, image: {key, label} | None,
  geometry, measured_by, measured_at}], ``overrides`` [{field, value, reason, by, at}] and
  ``events`` (the history, UIDs replaced the same way; score recomputations are left out because
  the importing workstation recomputes). People are named, never referred to by database id.
  Times are naive UTC in ISO form.
* **Merging never loses a local answer.** :func:`import_package` runs in the caller's
  transaction (``db.transaction()``): an error raises :class:`PackageError` and the caller's
  rollback leaves the database as it was (all or nothing). Per audit, matched on study +
  reviewer + checklist id + purpose:

  - no local audit: it is added with its answers, measurements, overrides and history, keeping
    the original times and people, and its score is computed here (``added``);
  - identical content: nothing is written, not even history (``unchanged``) — importing the
    same package twice is the same as importing it once;
  - otherwise answers and measurements only in the package are added; a local one that differs
    is kept and reported as a conflict ("Exam EX-… RMLO:imf_open: this workstation has 'pass'
    (Riley Chen), the package has 'fail' (…); kept the local answer") — unless the package's
    history shows the local value is an earlier state of that same audit (imported before, then
    corrected on the reviewer's workstation), in which case the newer value replaces it. A local
    audit with no answers at all is thus simply filled. Overrides are appended when newer than
    the local ones of that field; comments fill an empty local comment; a package marked
    complete completes a local audit in progress when nothing conflicted (``updated``).

  Exams not indexed on this workstation are skipped and listed (``missing_exams``); reviewers
  not known here are created (``reviewers_created``).
"""

from auditdesk.exchange.package_check import PackageError
from auditdesk.exchange.package_crypto import (
    PACKAGE_FORMAT,
    PACKAGE_KIND,
    PACKAGE_SUFFIX,
    SITE_KEY_SUFFIX,
    canonical_json,
    fingerprint,
    image_key,
    sign,
)
from auditdesk.exchange.package_export import REDACTED, build_payload, export_package, write_package
from auditdesk.exchange.package_import import ImportReport, import_package, read_package
from auditdesk.exchange.site_key import export_site_key, import_site_key
from auditdesk.store import audits as store

PURPOSES = store.PURPOSES

__all__ = [
    "PACKAGE_FORMAT",
    "PACKAGE_KIND",
    "PACKAGE_SUFFIX",
    "PURPOSES",
    "REDACTED",
    "SITE_KEY_SUFFIX",
    "ImportReport",
    "PackageError",
    "build_payload",
    "canonical_json",
    "export_package",
    "export_site_key",
    "fingerprint",
    "image_key",
    "import_package",
    "import_site_key",
    "read_package",
    "sign",
    "write_package",
]
