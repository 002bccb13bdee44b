"""The tabular benchmark suite behind ``benchmarks/tabular_search.py``: its scores and its search methods."""
