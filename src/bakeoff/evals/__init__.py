"""Bakeoffs: compare models on a suite of cases for quality, speed and cost.

Entry points: `evals.suite.load_suite(path_or_name)`, `evals.runner.run_suite(suite, models,
RunOptions(...))` (a suite's `benchmarks:` entries are scored by `evals.bench`),
`evals.metrics.board(run)` (leaderboard rows and paired comparisons), `evals.report.write_reports(run,
rows, pairs)`, `evals.stats` (exact McNemar, paired bootstrap, Holm, cases needed).
"""
