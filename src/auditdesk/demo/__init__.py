"""Synthetic, pseudonymous demo and test data: one generator for ``auditdesk demo`` and fixtures."""
