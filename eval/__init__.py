"""Evaluation set of known answers and its scoring (../shared/CONTRACT.md §3)."""
