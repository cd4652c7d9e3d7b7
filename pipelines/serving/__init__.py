"""Online scoring: the champion behind an HTTP API (`mlops serve`)."""
