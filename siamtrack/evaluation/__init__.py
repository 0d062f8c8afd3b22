"""Benchmarks: got10k experiments, dataset folders, peer trackers."""
