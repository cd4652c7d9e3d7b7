"""Helpers for tests and benchmarks (not product code)."""
