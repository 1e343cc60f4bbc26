"""Run a suite: models x cases, one model loaded at a time, each result stored as it finishes.

Public entry point (for the CLI and the server): `run_suite(suite, models, options, settings,
progress) -> run_id`. Models are opened through the engine factory with the run's concurrency, so
a local model serving several cases at once is continuously batched.

Resume: a run is identified by a signature (suite content, models, options). Running the same
thing again while a run with that signature is unfinished continues it; finished cases are
skipped (the store's UNIQUE(run, model, case) makes a duplicate impossible).
Cache: answers are keyed by (model fingerprint, messages, params); a new run reuses them unless
`use_cache=False`. Speed workloads never use the cache.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from typing import Any

from ..engines.base import Engine, GenParams, Message, Response, Timings, Usage, collect
from ..engines.factory import check_load, open_engine
from ..engines.options import LoadOptions
from ..engines.toolcalls import ToolPlan, Turn
from ..errors import BakeoffError, RemoteError
from ..models.ref import ModelRef
from ..models.registry import Registry
from ..runtime import model_fingerprint
from ..settings import Settings, get_settings
from ..store import connect
from ..store import evals as S
from .assertions import Context
from .bench import get_task, run_benchmark
from .grade import grade
from .results import CaseResult
from .speed import DEFAULT_REPEATS, WORKLOADS, RssSampler, Workload, measure, measure_concurrent
from .suite import Case, Suite


@dataclass
class RunOptions:
    use_cache: bool = True
    speed: bool = True
    speed_repeats: int = DEFAULT_REPEATS
    judge: str | None = None          # overrides the suite's judge
    n_ctx: int = 2048                 # context for local models: cases and workloads fit in it
    workloads: tuple[Workload, ...] = WORKLOADS
    threads: int | None = None        # llama.cpp threads (default: the threads setting)
    concurrency: int = 1              # cases in flight per model (local models: continuously batched)
    speculative: bool | None = None   # speculative decoding (None: the setting)
    draft: str | None = None          # a draft model for every local model (engines/draft.py)

    def identity(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "use_cache"}


class Progress:
    """Callbacks the runner calls; the CLI draws bars, tests record events."""

    def model_start(self, model: str, total: int, done: int) -> None: ...
    def case_done(self, model: str, case_id: str, status: str, cached: bool) -> None: ...
    def run_started(self, run_id: int, resumed: bool) -> None: ...
    def phase(self, model: str, text: str) -> None: ...
    def model_end(self, model: str, status: str, error: str | None) -> None: ...


# --- helpers ---------------------------------------------------------------------------------

def case_cost(ref: ModelRef, resp: Response, settings: Settings) -> float:
    """USD for one answer: an endpoint's per-token prices when it has them, else machine time."""
    ep = ref.endpoint
    if ep is not None and ep.price_in is not None and ep.price_out is not None:
        return (resp.usage.prompt_tokens * ep.price_in + resp.usage.completion_tokens * ep.price_out) / 1e6
    hourly = ep.hourly_cost if ep is not None and ep.hourly_cost is not None else settings.hourly_cost
    return resp.timings.total_s * hourly / 3600


def cache_key(fingerprint: str, messages: list[Message], params: GenParams, case: Case | None = None) -> str:
    payload = {"model": fingerprint, "messages": [m.model_dump() for m in messages],
               "params": params.cache_key()}
    if case is not None and case.tools:
        payload["tools"] = [[t.spec() for t in case.tools], case.forced]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def response_from(d: dict[str, Any]) -> Response:
    return Response(d["text"], d.get("finish_reason"), Usage(**d["usage"]), Timings(**d["timings"]))


def signature(suite: Suite, models: list[str], options: RunOptions) -> str:
    blob = json.dumps([suite.sha256, models, options.identity()], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class Judge:
    """Loads the judge model on first use and keeps it for the run."""

    def __init__(self, name: str | None, settings: Settings, n_ctx: int):
        self.name, self.settings, self.n_ctx = name, settings, n_ctx
        self.engine: Engine | None = None
        self.lock = threading.Lock()  # concurrent cases must not load the judge twice

    def __call__(self, prompt: str) -> str:
        if self.name is None:
            raise BakeoffError("no judge model set", "add `judge: MODEL` to the suite or pass --judge")
        with self.lock:
            if self.engine is None:
                self.engine = open_engine(self.name, LoadOptions(n_ctx=self.n_ctx), settings=self.settings)
        params = GenParams.build(temperature=0.0, max_tokens=160)
        return collect(self.engine.chat([Message(role="user", content=prompt)], params)).text

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


# --- the run ---------------------------------------------------------------------------------

class Runner:
    def __init__(self, suite: Suite, refs: list[ModelRef], options: RunOptions, settings: Settings,
                 progress: Progress):
        self.suite, self.refs, self.options = suite, refs, options
        self.settings, self.progress = settings, progress
        self.db = connect(settings)
        self.db_lock = threading.Lock()  # one connection; worker threads take turns
        self.judge = Judge(options.judge or suite.judge, settings, options.n_ctx)

    def start(self) -> int:
        names = [r.name for r in self.refs]
        sig = signature(self.suite, names, self.options)
        existing = S.find_resumable(self.db, sig)
        if existing is not None:
            self.progress.run_started(existing, True)
            return existing
        run_settings = {"threads": self.options.threads or self.settings.threads,
                        "gpu_layers": self.settings.gpu_layers,
                        "hourly_cost": self.settings.hourly_cost, "n_ctx": self.options.n_ctx,
                        "use_cache": self.options.use_cache, "concurrency": self.options.concurrency,
                        "speed_repeats": self.options.speed_repeats, "speed": self.options.speed,
                        "workloads": [asdict(w) for w in self.options.workloads],
                        "judge": self.judge.name}
        run_id = S.create_run(self.db, suite_name=self.suite.name, suite_path=self.suite.path,
                              suite_sha256=self.suite.sha256, signature=sig, models=names,
                              settings=run_settings)
        self.progress.run_started(run_id, False)
        return run_id

    def run(self, run_id: int) -> None:
        statuses = {r["model"]: r["status"] for r in S.get_run(self.db, run_id)["model_rows"]}
        try:
            for ref in self.refs:
                if statuses.get(ref.name) == "done":
                    continue
                self.run_model(run_id, ref)
        finally:
            self.judge.close()
        S.finish_run(self.db, run_id)

    def run_model(self, run_id: int, ref: ModelRef) -> None:
        """A failure here marks this model's row failed; the caller goes on with the others."""
        S.set_model_status(self.db, run_id, ref.name, "running")
        try:
            fingerprint = model_fingerprint(ref, self.settings)
            with RssSampler() as rss:
                self.progress.phase(ref.name, "loading")
                engine = open_engine(ref, self.load_options(ref), settings=self.settings)
                try:
                    info = engine.info()
                    self.run_cases(run_id, engine, fingerprint or ref.name)
                    if self.suite.benchmarks:
                        info = {**info, "benchmarks": self.run_benchmarks(engine)}
                    if self.options.speed:
                        self.run_speed(run_id, engine)
                finally:
                    engine.close()
            info = {**info, "peak_rss_bytes": rss.peak, "baseline_rss_bytes": rss.baseline}
            S.set_model_status(self.db, run_id, ref.name, "done", fingerprint=fingerprint, info=info)
            self.progress.model_end(ref.name, "done", None)
        except Exception as exc:  # noqa: BLE001 - one model's failure must not stop the others
            reason = f"{type(exc).__name__}: {exc}"
            S.set_model_status(self.db, run_id, ref.name, "failed", error=reason)
            self.progress.model_end(ref.name, "failed", reason)

    def load_options(self, ref: ModelRef) -> LoadOptions:
        """Each case in flight gets its own KV sequence with the whole context (a split cache).
        A draft model drafts for the local models of the bakeoff (a remote one decodes elsewhere)."""
        return LoadOptions(n_ctx=self.options.n_ctx, threads=self.options.threads,
                           concurrency=self.options.concurrency, kv_layout="split",
                           speculative=self.options.speculative,
                           draft=None if ref.is_remote else self.options.draft)

    def check_draft(self) -> None:
        """The draft model against every model it drafts for (load_options), before the first one
        loads: one that cannot serve them all stops the bakeoff now, not after others have run."""
        for ref in self.refs:
            check_load(ref, self.load_options(ref), self.settings)

    def run_cases(self, run_id: int, engine: Engine, fingerprint: str) -> None:
        name = engine.ref.name
        done = S.done_case_ids(self.db, run_id, name)
        self.progress.model_start(name, len(self.suite.cases), len(done))
        todo = [(pos, case) for pos, case in enumerate(self.suite.cases) if case.id not in done]
        for position, case, result in self.answers(engine, fingerprint, todo):
            with self.db_lock:
                S.save_result(self.db, run_id, name, result.row(position))
            self.progress.case_done(name, case.id, result.status, result.cached)

    def answers(self, engine: Engine, fingerprint: str,
                todo: list[tuple[int, Case]]) -> Iterator[tuple[int, Case, CaseResult]]:
        """Graded results as each case finishes; with concurrency > 1, several are in flight."""
        # Remote endpoints fan out to their own concurrency limit unless the user set one.
        n = self.options.concurrency
        if n <= 1 and not engine.ref.is_local:
            n = engine.concurrency
        if n <= 1:
            for pos, case in todo:
                yield pos, case, self.run_case(engine, fingerprint, case)
            return
        pool = ThreadPoolExecutor(n)
        try:
            futures = {pool.submit(self.run_case, engine, fingerprint, case): (pos, case)
                       for pos, case in todo}
            for fut in as_completed(futures):
                yield (*futures[fut], fut.result())
        finally:
            # On a failure (an endpoint gone for good), cases not started are dropped, not run:
            # they stay unfinished in the store and the same command resumes them.
            pool.shutdown(wait=True, cancel_futures=True)

    def answer(self, engine: Engine, fingerprint: str, case: Case) -> tuple[Response, bool]:
        messages = case.messages()
        params = self.suite.params_for(engine.ref.name, case)
        key = cache_key(fingerprint, messages, params, case)
        if self.options.use_cache:
            with self.db_lock:
                hit = S.cache_get(self.db, key)
            if hit is not None:
                return response_from(hit), True
        if case.tools:  # rendered through the model's tool template, else the generic format
            plan = ToolPlan([Turn(m.role, m.content) for m in messages], case.tools, case.forced,
                            parallel=True, native=engine.tool_template() is not None)
            fn, args = plan.request(engine, params)
            resp = collect(fn(*args))
        else:
            resp = collect(engine.chat(messages, params))
        with self.db_lock:
            S.cache_put(self.db, key, resp.to_dict())
        return resp, False

    def run_case(self, engine: Engine, fingerprint: str, case: Case) -> CaseResult:
        prompt = [m.model_dump() for m in case.messages()]
        try:
            resp, cached = self.answer(engine, fingerprint, case)
        except RemoteError:
            raise  # the endpoint is failing, not the case: stop this model, resume later
        except BakeoffError as exc:  # this case cannot run (e.g. too long); the others can
            return CaseResult.failed(case.id, prompt, str(exc))
        cost = case_cost(engine.ref, resp, self.settings)
        ctx = Context(vars=case.vars, prompt=case.prompt, latency_s=resp.timings.total_s,
                      cost_usd=cost, judge=self.judge, finish_reason=resp.finish_reason,
                      tools=case.tools)
        return CaseResult.graded(case.id, prompt, resp, grade(case, resp.text, ctx), cost, cached)

    def run_benchmarks(self, engine: Engine) -> dict[str, Any]:
        """{task: {scores: {metric: {value, stderr, n}}, n, settings, ...}} for this model."""
        out: dict[str, Any] = {}
        for entry in self.suite.benchmarks:
            self.progress.phase(engine.ref.name, f"benchmark {entry.task}")
            # Local models are scored by a bench engine of their own (parallel sequences, batch-
            # invariant logits), exactly as `bakeoff bench` scores them, so both share stored items.
            result = run_benchmark(entry.task, engine.ref.name, limit=entry.limit, shots=entry.shots,
                                   engine=None if engine.ref.is_local else engine, settings=self.settings)
            out[entry.task] = result.to_dict()
        return out

    def run_speed(self, run_id: int, engine: Engine) -> None:
        name = engine.ref.name
        done = S.speed_done(self.db, run_id, name)
        for work in self.options.workloads:
            if work.name in done:
                continue
            self.progress.phase(name, f"speed: {work.name} workload ×{self.options.speed_repeats}")
            samples, summary = measure(engine, work, self.options.speed_repeats)
            S.save_speed(self.db, run_id, name, work.name, samples, summary)
        n, short = self.options.concurrency, self.options.workloads[0]
        if n > 1 and f"{short.name}@{n}" not in done:
            self.progress.phase(name, f"speed: {short.name} workload at concurrency {n}")
            samples, summary = measure_concurrent(engine, short, n, self.options.speed_repeats)
            S.save_speed(self.db, run_id, name, f"{short.name}@{n}", samples, summary)


def resolve_models(names: list[str] | None, settings: Settings) -> list[ModelRef]:
    """The named models (unknown names fail before anything runs), or every local model."""
    registry = Registry(settings)
    if names:
        refs = [registry.resolve(n) for n in names]
        seen: set[str] = set()
        return [r for r in refs if not (r.name in seen or seen.add(r.name))]  # type: ignore[func-returns-value]
    refs = [r for r in registry.list() if r.source == "packaged"]
    if not refs:
        raise BakeoffError("no packaged models are installed", "run `make setup`, or pass --models")
    return refs


def run_suite(suite: Suite, models: list[str] | None = None, options: RunOptions | None = None,
              settings: Settings | None = None, progress: Progress | None = None) -> int:
    settings = settings or get_settings()
    options = options or RunOptions()
    if suite.benchmarks:  # unknown task names stop the run before anything starts
        for entry in suite.benchmarks:
            get_task(entry.task)
    refs = ([c.ref for c in suite.contestants] if suite.contestants and not models
            else resolve_models(models, settings))
    runner = Runner(suite, refs, options, settings, progress or Progress())
    if options.draft:
        runner.check_draft()
    run_id = runner.start()
    runner.run(run_id)
    return run_id
