"""Monitoring: is the champion still to be trusted? Drift of its inputs and scores against a
reference stored with the model, delayed-label performance, an estimate before the labels
arrive, one verdict per night, and the on-call page."""
