"""The run directory: results.json's schema (one reader, one writer), samples files, the run
lock, generated images and the settings two runs differ in."""
