"""Side-by-side benchmarks; run each as ``python -m benchmarks.<name>``."""
