"""Checklist engine: file format, validation, scoring rules (core, no Qt)."""
