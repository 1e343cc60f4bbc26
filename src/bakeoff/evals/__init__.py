"""Bakeoffs: compare models on a suite of cases for quality, speed and cost.

Entry points: `evals.suite.load_suite(path_or_name)`, `evals.runner.run_suite(suite, models,
RunOptions(...))`, `evals.runner.set_benchmark_runner(fn)` (runs a suite's `benchmarks:` entries),
`evals.metrics.leaderboard(run)`, `evals.report.write_reports(run, rows)`.
"""
