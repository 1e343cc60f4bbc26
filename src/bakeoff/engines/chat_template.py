"""Render a model's chat template (Jinja from the GGUF file) with bounds on time, size and memory.

A template is code that came with a downloaded model: it can loop for hours (nested loops over a
range), build gigabytes (string repetition), or raise. Rendering it in-process would let one request
block every model, /health and shutdown. So it runs in a child process (template_worker.py): the
parent waits at most `timeout_s` and kills it past that, the child cuts output past `max_chars` and
cannot allocate past its address-space cap. Failures are typed: a template that declines the
messages (its raise_exception) is the request's problem (InvalidParamsError, HTTP 400); a broken,
slow or huge template is the model file's (ChatTemplateError, HTTP 500).

Each template renders in a child of its own (up to _MAX_WORKERS, the least recently used idle one
is ended past that): one model's runaway template holds only its own renderer, never another
model's requests (one shared child made a server's every chat wait 10 s per hostile request).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import select
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import ChatTemplateError, EngineError, InvalidParamsError
from ..models.gguf_parse import MAX_STRING_BYTES

if TYPE_CHECKING:
    from .llama_lowlevel import Vocab

_WORKER = Path(__file__).with_name("template_worker.py")
_START_TIMEOUT_S = 120.0     # a cold interpreter on a loaded machine; not part of any render's budget
_MAX_WORKERS = 8             # distinct templates with a live renderer (about 30 MB each)


@dataclass(frozen=True)
class TemplateLimits:
    timeout_s: float = 10.0          # wall clock per render; real templates take milliseconds
    max_chars: int = 16 << 20        # far above any prompt a context window holds


class _Worker:
    """One child process for one template; one render at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._retired = False    # ended while a caller held it: its next render ends the child again

    def render(self, template: str, context: dict[str, Any], limits: TemplateLimits) -> dict[str, Any]:
        with self._lock:
            try:
                return self._render(template, context, limits)
            finally:
                if self._retired:
                    self._stop()

    def _render(self, template: str, context: dict[str, Any], limits: TemplateLimits) -> dict[str, Any]:
        if self._proc is not None and self._proc.poll() is not None:   # died since (killed from outside)
            self._stop()
        stdin, stdout = _pipes(self._proc or self._start())
        request = {"template": template, "context": context, "max_chars": limits.max_chars}
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            ready, _, _ = select.select([stdout], [], [], limits.timeout_s)
            line = stdout.readline() if ready else None
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            self._stop()
            if line is None:
                return {"slow": limits.timeout_s}
            return {"broken": "the renderer died (out of memory?)"}
        return json.loads(line)

    def _start(self) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-I", str(_WORKER)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                encoding="utf-8", bufsize=1)
        stdout = _pipes(proc)[1]
        ready, _, _ = select.select([stdout], [], [], _START_TIMEOUT_S)
        if not ready or stdout.readline().strip() != "ready":
            proc.kill()
            proc.wait()
            raise EngineError("the chat-template renderer did not start",
                              "check that jinja2 is installed in this environment")
        self._proc = proc
        return proc

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self, wait: bool = True) -> bool:
        """End the child; with wait=False only when it is idle (True: it was ended)."""
        if not self._lock.acquire(blocking=wait):
            return False
        try:
            self._retired = True
            self._stop()
        finally:
            self._lock.release()
        return True


class _Workers:
    """A renderer per template source, the least recently used idle ones ended past _MAX_WORKERS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_source: dict[str, _Worker] = {}

    def render(self, template: str, context: dict[str, Any], limits: TemplateLimits) -> dict[str, Any]:
        key = hashlib.blake2b(template.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        with self._lock:
            worker = self._by_source.pop(key, None) or _Worker()
            self._by_source[key] = worker          # most recently used last
            for old in list(self._by_source)[:-1]:
                if len(self._by_source) <= _MAX_WORKERS:
                    break
                if self._by_source[old].close(wait=False):
                    del self._by_source[old]
        return worker.render(template, context, limits)

    def close(self) -> None:
        with self._lock:
            workers, self._by_source = list(self._by_source.values()), {}
        for w in workers:
            w.close()


def _pipes(proc: subprocess.Popen) -> tuple[IO[str], IO[str]]:
    if proc.stdin is None or proc.stdout is None:   # both are PIPE: never, but say so to the type checker
        raise EngineError("the chat-template renderer has no pipes")
    return proc.stdin, proc.stdout


_workers = _Workers()
atexit.register(_workers.close)


class ChatTemplate:
    """A model's chat template with its special tokens; render() is safe to call from any thread."""

    def __init__(self, source: str, *, bos_token: str, eos_token: str, path: str,
                 limits: TemplateLimits | None = None):
        if len(source) > MAX_STRING_BYTES:   # a listing never reads one this long either
            raise ChatTemplateError(path, f"{len(source):,} characters long, over the "
                                    f"{MAX_STRING_BYTES:,} Bakeoff renders")
        self.source, self.path = source, path
        self.specials = {"bos_token": bos_token, "eos_token": eos_token}
        self.limits = limits or TemplateLimits()

    def render(self, messages: list[dict[str, Any]], add_generation_prompt: bool = True,
               tools: list[dict[str, Any]] | None = None) -> str:
        context = {"messages": messages, "add_generation_prompt": add_generation_prompt, **self.specials}
        if tools:
            context["tools"] = tools  # templates that render tools test `tools` (absent: no tools)
        answer = _workers.render(self.source, context, self.limits)
        if "text" in answer:
            return answer["text"]
        if "refused" in answer:
            raise InvalidParamsError(f"the model's chat template refused these messages: {answer['refused']}",
                                     param="messages",
                                     hint="follow the model's conversation format (e.g. alternate user and "
                                          "assistant, one system message first)")
        if "slow" in answer:
            raise ChatTemplateError(self.path, f"took longer than {answer['slow']:g} s to render (stopped)")
        if "too_big" in answer:
            raise ChatTemplateError(self.path, f"rendered more than {answer['too_big']:,} characters (stopped)")
        raise ChatTemplateError(self.path, answer["broken"])


class ChatRenderer:
    """A conversation rendered through the model's own chat template, and its token ids.

    `bakeoff tune` renders training conversations with it through the same sandboxed template the
    engine uses, so a tuned model is trained on exactly the tokens it is later asked with."""

    def __init__(self, vocab: Vocab, template: str | None = None, path: str = "model"):
        self.vocab = vocab
        self.template = template or vocab.chat_template()
        self._chat = ChatTemplate(self.template, eos_token=vocab.special_text(vocab.eos),
                                  bos_token=vocab.special_text(vocab.bos), path=path) if self.template else None

    def render(self, messages: list[Any], add_generation_prompt: bool = True) -> str:
        msgs = [m if isinstance(m, dict) else m.model_dump() for m in messages]
        if self._chat is None:
            lines = [f"{m['role'].capitalize()}: {m['content']}" for m in msgs]
            return "\n".join(lines) + ("\nAssistant:" if add_generation_prompt else "")
        return self._chat.render(msgs, add_generation_prompt)

    def tokens(self, text: str, first: bool = True) -> list[int]:
        """Token ids of rendered text; BOS is added once, at the start, unless the text has it."""
        bos_text = self.vocab.special_text(self.vocab.bos)
        has_bos = bool(bos_text) and text.startswith(bos_text)
        return self.vocab.tokenize(text, add_special=first and not has_bos)
