"""The coach's step: reviewer agreement (kappa and friends), adjudication and
calibration sets. No Qt."""
