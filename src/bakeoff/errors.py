"""Typed errors. Each carries the data that describes the problem and a hint that tells the fix.

Surfaces map these *types* to output in one table each (CLI: a one-line message and an exit code;
server: OpenAI's error JSON). Nothing matches on message text.
"""

from __future__ import annotations


class BakeoffError(Exception):
    """Base class. `hint` tells the user how to fix the problem."""

    hint: str = ""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(BakeoffError):
    """A setting is invalid or a folder cannot be used."""


class HomeNotWritableError(ConfigError):
    def __init__(self, path: str, reason: str):
        super().__init__(
            f"BAKEOFF_HOME {path} is not writable: {reason}",
            "set BAKEOFF_HOME to a folder you can write to, e.g. export BAKEOFF_HOME=~/.bakeoff",
        )
        self.path = path


class ModelNotFoundError(BakeoffError):
    def __init__(self, name: str, suggestions: list[str] | None = None):
        self.name = name
        self.suggestions = suggestions or []
        hint = (
            f"did you mean {', '.join(self.suggestions)}?"
            if self.suggestions
            else "run `bakeoff models` to list the models you can use"
        )
        super().__init__(f"unknown model {name!r}", hint)


class AmbiguousModelError(ModelNotFoundError):
    """A short model name matches models in several places; the full names tell them apart."""

    def __init__(self, name: str, matches: list[str]):
        BakeoffError.__init__(self, f"model name {name!r} matches {len(matches)} models: {', '.join(matches)}",
                              "use one of the full names above (see `bakeoff models`)")
        self.name = name
        self.suggestions = matches
        self.matches = matches


class ModelFileError(BakeoffError):
    """A model file is missing, not GGUF, truncated or corrupt."""

    def __init__(self, path: str, problem: str, hint: str | None = None):
        self.path = path
        self.problem = problem
        super().__init__(
            f"{path}: {problem}",
            hint or "re-download or re-convert the file; `bakeoff pull` verifies checksums",
        )


class ChatTemplateError(ModelFileError):
    """A model's chat template is broken, too slow or too big to render."""

    def __init__(self, path: str, problem: str):
        super().__init__(path, f"chat template: {problem}",
                         "the template comes from the model file: use another build of the model, or "
                         "report it to its publisher")


class PackageMissingError(BakeoffError):
    def __init__(self, package: str, what: str):
        self.package = package
        super().__init__(
            f"{what} needs the Python package {package!r}, which is not installed",
            f"install it with: .venv/bin/pip install {package}",
        )


class ContextOverflowError(BakeoffError):
    def __init__(self, prompt_tokens: int, n_ctx: int, max_tokens: int = 0):
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        need = f"{prompt_tokens} prompt tokens" + (f" + {max_tokens} to generate" if max_tokens else "")
        super().__init__(
            f"prompt too long: {need} exceed the context window of {n_ctx} tokens",
            "shorten the prompt or raise the context with --ctx (up to the model's training context)",
        )


class InvalidParamsError(BakeoffError):
    """Generation or request parameters are invalid."""

    def __init__(self, message: str, param: str | None = None, hint: str | None = None):
        self.param = param
        super().__init__(message, hint)


class EngineError(BakeoffError):
    """The engine failed while loading or generating."""


class DecodeAborted(EngineError):
    """A decode was stopped midway because a request in it was dropped (its client left while
    its prompt was being read); llama.cpp applied none of the batch, which may be decoded again."""

    def __init__(self) -> None:
        super().__init__("the decode was aborted: a request in it was dropped")


class DraftModelError(InvalidParamsError):
    """A draft model for speculative decoding cannot serve its target: another vocabulary, or not
    smaller. Example: `--draft gemma3-270m` for smollm2-135m (different tokenizers)."""

    def __init__(self, draft: str, target: str, problem: str, hint: str):
        self.draft, self.target, self.problem = draft, target, problem
        super().__init__(f"draft model {draft!r} cannot draft for {target!r}: {problem}",
                         param="draft", hint=hint)


class InsufficientMemoryError(BakeoffError):
    """What was asked to load needs more memory than the machine has available."""

    def __init__(self, what: str, needed: int, available: int, hint: str, *, limit: str = ""):
        """`limit` names a set limit `available` stands for (e.g. "the server's memory budget")."""
        self.what, self.needed, self.available = what, needed, available
        mib = 1 << 20
        have = f"{limit} is {available / mib:,.0f} MiB" if limit else f"{available / mib:,.0f} MiB is available"
        super().__init__(f"{what} needs about {needed / mib:,.0f} MiB of memory but {have}", hint)


class UnsupportedError(BakeoffError):
    """The engine or model cannot do what was asked (e.g. embeddings, log-likelihood)."""


class SuiteError(BakeoffError):
    """A suite file is malformed; carries file, line and field."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 field: str | None = None, hint: str | None = None):
        self.file, self.line, self.field = file, line, field
        where = ":".join(str(p) for p in (file, line) if p is not None)
        loc = f"{where}: " if where else ""
        fld = f"{field}: " if field else ""
        super().__init__(f"{loc}{fld}{message}", hint)


class NotFoundError(BakeoffError):
    """A named thing (run, task, catalog entry, endpoint, conversation) does not exist."""

    def __init__(self, kind: str, name: str, suggestions: list[str] | None = None,
                 valid: list[str] | None = None):
        self.kind, self.name = kind, name
        self.suggestions = suggestions or []
        if self.suggestions:
            hint = f"did you mean {', '.join(self.suggestions)}?"
        elif valid:
            hint = f"valid {kind}s: {', '.join(valid)}"
        else:
            hint = None
        super().__init__(f"unknown {kind} {name!r}", hint)


class RemoteError(BakeoffError):
    """A remote endpoint answered with an error or could not be reached."""

    def __init__(self, endpoint: str, message: str, status: int | None = None,
                 hint: str | None = None):
        self.endpoint, self.status = endpoint, status
        code = f"HTTP {status}: " if status else ""
        super().__init__(f"endpoint {endpoint!r}: {code}{message}", hint)


class BusyError(BakeoffError):
    """A bounded queue is full; retry later."""

    def __init__(self, message: str = "server is busy", retry_after: float = 1.0):
        self.retry_after = retry_after
        super().__init__(message, f"retry after {retry_after:g} s")


class CatalogError(ConfigError):
    """A catalog data file breaks the schema; carries the file and the entry."""

    def __init__(self, message: str, file: str | None = None, entry: str | None = None):
        self.file, self.entry = file, entry
        where = " ".join(p for p in (file, f"entry {entry!r}" if entry else None) if p)
        super().__init__(f"{where}: {message}" if where else message,
                         "fix the catalog YAML; every fact needs a source URL and a known licence")


class DownloadError(RemoteError):
    """A model download failed (offline, not found, checksum mismatch)."""


class IncomparableRunsError(InvalidParamsError):
    """Two runs (or models) cannot be compared case by case: different suites, no common cases."""

    def __init__(self, message: str, hint: str):
        super().__init__(message, hint=hint)


class QualityGateError(BakeoffError):
    """`bakeoff run --fail-under/--baseline`: a model missed the bar (the run itself completed)."""

    def __init__(self, failures: list[str]):
        self.failures = failures
        super().__init__("quality gate failed: " + "; ".join(failures),
                         "the leaderboard above and the report show every case")


class TrainingError(BakeoffError):
    """`bakeoff tune` stopped; nothing was registered."""


class WontFitError(TrainingError):
    """Training would need more memory than is available."""

    def __init__(self, needed: int, available: int, hint: str):
        self.needed, self.available = needed, available
        gib = 1024 ** 3
        super().__init__(f"training needs about {needed / gib:.1f} GiB of memory but "
                         f"{available / gib:.1f} GiB is available", hint)


class DiskSpaceError(BakeoffError, OSError):
    """A file would not fit on its disk; nothing was written."""

    def __init__(self, path: str, needed: int, free: int, hint: str = "free some space or choose another folder"):
        self.path, self.needed, self.free = path, needed, free
        gib = 1024 ** 3
        super().__init__(f"writing {path} needs about {needed / gib:.2f} GiB but its disk has "
                         f"{free / gib:.2f} GiB free", hint)


class DivergedError(TrainingError):
    """The training loss became NaN or infinite, or grew far above where it started."""

    def __init__(self, step: int, loss: float, reason: str):
        self.step, self.loss = step, loss
        super().__init__(f"training stopped at step {step}: {reason} (loss {loss:.4g}); "
                         "nothing was registered",
                         "lower the learning rate (--lr), e.g. by 10x, and run again with --restart")
