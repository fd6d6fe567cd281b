"""Task configs (YAML), prompt profiles and the task registry."""
