"""The app's own housekeeping, needed before any database opens: the log file,
machine-wide settings, crash reports and the installation self-test. No Qt."""
