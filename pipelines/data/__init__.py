"""Landing layout, training snapshot, data and code versions."""
