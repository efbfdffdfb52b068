"""Training: configuration, data, augmentation, losses, metrics and the loop (no napari imports)."""
