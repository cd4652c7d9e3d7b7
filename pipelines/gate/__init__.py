"""The data gate: contracts, Great Expectations runs, chunked validation, quarantine."""
