"""Comparing runs: `compare` (run B against run A, paired intervals) and the score-regression
gate (`baseline`/`check`)."""
