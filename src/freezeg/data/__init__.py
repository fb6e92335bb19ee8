"""Image data: reading any common image file as RGB, datasets and preparation."""
