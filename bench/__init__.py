"""Benchmarks: speed, memory and retrieval accuracy against baselines (`make bench`)."""
