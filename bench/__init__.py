"""Benchmarks of the kit: gradient checks (gradcheck_bench) and reference speed (reference_bench)."""
