"""Data in and out of AuditDesk: imports of past audits, exports, reviewer packages (no Qt)."""
