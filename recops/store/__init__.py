"""The dataset directory: content-addressed objects, append-only record segments, config, lock."""
