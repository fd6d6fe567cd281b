"""Dataset loaders for the official annotation formats and Hugging Face datasets."""
