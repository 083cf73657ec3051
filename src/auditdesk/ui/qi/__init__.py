"""Qt widgets for the team leader: the QI window, measure, charts, sampling, site, reports."""
