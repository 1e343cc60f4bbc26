"""The suite file's shape, declared once as pydantic models (extra keys are errors).

```yaml
name: my-suite
prompt: "Answer briefly. {{question}}"      # template; {{var}} comes from each case's vars
system: "You are terse."                    # optional
examples: [{user: "2+2?", assistant: "4"}]  # optional few-shot turns before every case
params: {max_tokens: 48, temperature: 0}    # GenParams for every case (a case may override)
judge: smollm2-135m                         # model that grades llm-rubric assertions
tools: [{type: function, function: {name: get_weather, parameters: {...}}}]  # offered to cases
tool_choice: auto                           # or required, none, a function name (case may override)
defaults: {assert: [...], vars: {...}, threshold: 1.0}
cases:
  - id: capital-fr
    vars: {question: "Capital of France?"}
    assert: [{type: icontains, value: Paris}]
cases_from: [more.jsonl, table.csv]         # rows in the case shape (CSV: columns are vars)
# or cases from a dataset (evals/formats/datasets.py):
# cases: {from: hf://datasets/OWNER/NAME, split: test, vars: {question: q}, expected: answer, limit: 50}
benchmarks: [{task: arc_easy, limit: 50, shots: 0}]
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AssertSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(description="Assertion type, optionally prefixed with not-.")
    value: Any = Field(None, description="What to compare against (type-specific).")
    weight: float = Field(1.0, ge=0.0, description="Weight in the case's weighted pass score.")
    threshold: float | None = Field(None, ge=0.0, le=1.0,
                                    description="Pass when the assertion's score >= threshold.")
    metric: str | None = Field(None, description="Similarity metric: rouge-l or levenshtein.")


class Turn(BaseModel):
    """One earlier message of a case's conversation."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


class CaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    id: str | None = None
    description: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    prompt: str | None = Field(None, description="Overrides the suite's prompt template.")
    system: str | None = None
    history: list[Turn] = Field(default_factory=list,
                                description="Earlier turns of the conversation, sent before the prompt "
                                            "(multi-turn cases).")
    asserts: list[AssertSpec] = Field(default_factory=list, alias="assert")
    params: dict[str, Any] = Field(default_factory=dict)
    threshold: float | None = Field(None, ge=0.0, le=1.0,
                                    description="Weighted pass score needed (default 1: all pass).")
    tools: list[dict[str, Any]] | None = Field(None, description="Functions offered (OpenAI tool specs).")
    tool_choice: str | None = Field(None, description="auto (default), required, none, or a function name.")


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    vars: dict[str, Any] = Field(default_factory=dict)
    asserts: list[AssertSpec] = Field(default_factory=list, alias="assert")
    threshold: float = Field(1.0, ge=0.0, le=1.0)


class Example(BaseModel):
    """A worked exchange shown before every case (few-shot): it tells base models what an answer
    looks like, and every model sees the same prompt."""

    model_config = ConfigDict(extra="forbid")
    user: str
    assistant: str


class BenchmarkEntry(BaseModel):
    """A standard benchmark included in a suite; run through the hook in evals.runner."""

    model_config = ConfigDict(extra="forbid")
    task: str = Field(description="Benchmark task name, e.g. arc_easy.")
    limit: int | None = Field(None, ge=1, description="Use at most this many items.")
    shots: int = Field(0, ge=0, description="Few-shot examples per item.")


class DatasetSpec(BaseModel):
    """`cases:` as a dataset: each row is a case (a string is shorthand for `{from: ...}`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    source: str = Field(alias="from", description="A .parquet/.arrow/.jsonl/.csv file, or hf://datasets/OWNER/NAME.")
    subset: str | None = Field(None, description="The dataset's config (subset) name.")
    split: str | None = Field(None, description="Split to read (needed when there are several).")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")
    vars: dict[str, str] | None = Field(None, description="Var name -> column (default: every column).")
    expected: str | None = Field(None, description="Column with the expected answer, as the var `expected`.")
    id: str | None = Field(None, description="Column naming each case (default: ROW-N).")
    sample: int | None = Field(None, ge=1, description="A seeded random sample of this many rows.")
    seed: int = Field(0, description="Seed for `sample`.")
    limit: int | None = Field(None, ge=1, description="At most this many rows (after sampling).")


class SuiteSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None
    prompt: str | None = None
    system: str | None = None
    examples: list[Example] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    judge: str | None = None
    tools: list[dict[str, Any]] = Field(default_factory=list, description="Functions offered to every case.")
    tool_choice: str | None = Field(None, description="auto (default), required, none, or a function name.")
    defaults: Defaults = Field(default_factory=Defaults)
    cases: list[CaseSpec] = Field(default_factory=list)
    cases_from: list[str] | str = Field(default_factory=list)
    benchmarks: list[BenchmarkEntry] = Field(default_factory=list)
