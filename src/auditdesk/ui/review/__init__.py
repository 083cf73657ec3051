"""Qt widgets for the coach: agreement window and report, adjudication, calibration sets."""
