"""The run directory: its results.json schema (one reader, one writer), reading samples, the run
lock."""
