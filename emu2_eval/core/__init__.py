"""Low-level pieces every layer shares: errors, registries, requests and prompt parts, hashing,
atomic files, devices, environment."""
