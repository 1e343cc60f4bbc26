"""Standard benchmarks (ARC, HellaSwag, PIQA, ..., GSM8K, HumanEval) scored the way
lm-evaluation-harness scores them. Tasks are YAML data in bakeoff/evals/tasks/."""

from .runner import BenchResult, run_benchmark
from .tasks import TaskSpec, get_task, task_names

__all__ = ["BenchResult", "TaskSpec", "get_task", "run_benchmark", "task_names"]
