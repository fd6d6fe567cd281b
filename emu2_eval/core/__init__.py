"""What every layer shares: errors, registries and plugins, requests and prompt parts, hashing,
atomic files, devices, environment settings, bounded image and video reading."""
