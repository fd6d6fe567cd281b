"""Comparing runs: compare two runs, the score-regression gate, and what differs in their
settings."""
