"""Data for the lessons: synthetic tasks, text, and batching layouts."""
