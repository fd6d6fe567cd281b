"""Model adapters: one family of models each, never a task."""
