"""Few-shot in-context evaluation: demonstration selection (random, RICES) and its features."""
