"""Fit, evaluate and track a model."""
