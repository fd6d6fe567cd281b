"""Running tasks through a model: batching, caching, logging, scoring."""
