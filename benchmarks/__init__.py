"""Benchmarks, run by `make bench`. Each reports ratios against a baseline measured in the same run."""
