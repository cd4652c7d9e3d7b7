"""Nightly batch scoring: pinned models, shards, publish, shadow."""
