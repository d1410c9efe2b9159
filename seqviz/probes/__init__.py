"""Probes: run a model and return what a lesson shows (numbers, not pictures)."""
