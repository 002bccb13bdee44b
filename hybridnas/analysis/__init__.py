"""Reading results: Pareto fronts, hypervolume, picking a model, plots."""
