"""Benchmarks: ``python -m benchmarks [ingest|forecast|all]`` (``make bench`` runs all)."""
