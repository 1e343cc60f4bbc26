"""A thin, owned wrapper over llama.cpp's C API (through llama-cpp-python's ctypes bindings).

We drive decoding ourselves rather than through `llama_cpp.Llama` so that one loop serves plain
generation, several sequences decoded together in one batch (continuous batching), and
log-likelihood scoring with logits requested only where they are needed.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ContextOverflowError, DecodeAborted, EngineError, InvalidParamsError
from ..jsontext import as_text
from . import llama_models
from .grammar import check_grammar
from .threads import ThreadGovernor

_init_lock = threading.Lock()
GGML_TYPE_BF16 = 30   # ggml.h

# Batch-invariant attention (`exact_attention`): flash attention with the V cache in BF16. llama.cpp's
# CPU flash attention has three kernels, chosen per decode by its shape: a tiled one when a sequence
# has 64 or more tokens in a sub-batch (a prompt evaluated at once), one that splits the KV cells
# across threads when a sub-batch is one token of one sequence and the cache view spans 512 or more
# cells (a lone request past 256 tokens), and a row-by-row one otherwise. They round differently, so a
# token's logits depended on how its prompt was chunked and on what shared its decode
# (benchmarks/batch_exactness.py). The first two take only K and V caches of one type (F32 is cast
# to F16 first); with K in F16 and V in BF16 every decode takes the row-by-row kernel, whose result
# for a token depends on nothing else in the batch. BF16 takes the memory F16 does (8 bits of
# mantissa instead of 10, for the values attention averages).
_backend_ready = False


def backend_init() -> None:
    global _backend_ready
    with _init_lock:
        if _backend_ready:
            return
        import llama_cpp
        import llama_cpp._logger  # noqa: F401 - installs llama-cpp-python's log callback

        level = logging.DEBUG if os.environ.get("BAKEOFF_DEBUG") else logging.CRITICAL
        logging.getLogger("llama-cpp-python").setLevel(level)
        llama_cpp.llama_backend_init()
        _backend_ready = True


def engine_version() -> str:
    import llama_cpp

    return f"llama-cpp-python {llama_cpp.__version__}"


class Vocab:
    """Tokenizer side of a loaded llama.cpp model (needs self.ll, self.model, self.vocab)."""

    ll: Any
    model: Any
    vocab: Any

    def close(self) -> None:
        raise NotImplementedError

    def __del__(self) -> None:  # both kinds of handle free their llama.cpp objects in close()
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def _init_vocab(self) -> None:
        self.vocab = self.ll.llama_model_get_vocab(self.model)
        self.n_vocab = int(self.ll.llama_vocab_n_tokens(self.vocab))
        self._pieces: dict[int, bytes] = {}
        self._piece_buf = ctypes.create_string_buffer(256)

    # --- vocabulary -------------------------------------------------------------------------
    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = True) -> list[int]:
        # A str may hold lone surrogates: bytes a terminal sent that are not UTF-8 (`bakeoff ask`
        # reads argv with surrogateescape), or a chat template's output. They become U+FFFD.
        data = as_text(text).encode("utf-8")
        cap = len(data) + 8
        buf = (self.ll.llama_token * cap)()
        n = self.ll.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, parse_special)
        if n < 0:
            cap = -n
            buf = (self.ll.llama_token * cap)()
            n = self.ll.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, parse_special)
        return list(buf[:n])

    def piece(self, token: int, special: bool = False) -> bytes:
        key = token if not special else -1 - token
        cached = self._pieces.get(key)
        if cached is None:
            n = self.ll.llama_token_to_piece(self.vocab, token, self._piece_buf, 256, 0, special)
            cached = self._piece_buf.raw[: max(n, 0)]
            self._pieces[key] = cached
        return cached

    def detokenize(self, tokens: Sequence[int]) -> str:
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", "replace")

    def is_eog(self, token: int) -> bool:
        return bool(self.ll.llama_vocab_is_eog(self.vocab, token))

    def special_text(self, token: int) -> str:
        return self.piece(token, special=True).decode("utf-8", "replace") if token >= 0 else ""

    @property
    def bos(self) -> int:
        return int(self.ll.llama_vocab_bos(self.vocab))

    @property
    def eos(self) -> int:
        return int(self.ll.llama_vocab_eos(self.vocab))

    @property
    def add_bos(self) -> bool:
        return bool(self.ll.llama_vocab_get_add_bos(self.vocab))

    def chat_template(self) -> str | None:
        raw = self.ll.llama_model_chat_template(self.model, None)
        return raw.decode("utf-8") if raw else None


class VocabOnly(Vocab):
    """A model file's tokenizer alone (llama.cpp vocab_only: no weights are loaded)."""

    def __init__(self, path: str):
        backend_init()
        import llama_cpp as ll

        self.ll = ll
        params = ll.llama_model_default_params()
        params.vocab_only = True
        self.model = ll.llama_model_load_from_file(path.encode(), params)
        if not self.model:
            raise EngineError(f"llama.cpp could not read the vocabulary of {path}")
        self._init_vocab()

    def close(self) -> None:
        if getattr(self, "model", None):
            self.ll.llama_model_free(self.model)
            self.model = None


# llama.cpp's CPU kernels compute a token's values differently depending on how many tokens share
# its decode: measured here on a 200-token prompt, SmolLM2 (Q4_1, Q8_0) gives logits bit-identical
# to one-token decoding in any batch under 64 tokens and another result (max |diff| 0.39) in batches
# of 64 or more; Gemma 3 270M (Q4_K_M) differs by how the batch splits into tiles of 4 (up to 1.5).
# So a prompt evaluated in one batch, or after a cached prefix of another length, can give another
# greedy answer. Prompts are therefore evaluated in chunks cut at fixed multiples of GRID positions,
# and a cached prefix is reused only up to the last such cut that a complete chunk reached: every
# position is computed in the same chunk, with the same neighbours, whatever the cache held. Chunks
# of 64 read prompts at 0.95x the speed of one 480-token batch (318 vs 335 tok/s, SmolLM2 Q4_1).
GRID = 64


def _context_params(ll: Any, *, n_ctx: int, n_batch: int, n_seq_max: int, n_threads: int,
                    kv_unified: bool, embeddings: bool, flash_attn: bool | None,
                    exact_attention: bool) -> Any:
    """llama.cpp's context parameters for a LlamaHandle."""
    cparams = ll.llama_context_default_params()
    cparams.n_ctx = n_ctx
    cparams.n_batch = n_batch
    cparams.n_ubatch = n_batch
    cparams.n_seq_max = n_seq_max
    cparams.n_threads = n_threads
    cparams.n_threads_batch = n_threads
    # Unified: the sequences share one pool of n_ctx cells, so any one may use all of it, but
    # attention scans every sequence's cells. Split: each sequence owns n_ctx / n_seq_max cells
    # (its own stream), attention scans only its own, and one long request cannot starve others.
    cparams.kv_unified = kv_unified
    cparams.embeddings = embeddings
    cparams.no_perf = True
    if exact_attention:
        flash_attn = True
        cparams.type_v = GGML_TYPE_BF16   # see the note on exact_attention above
    # None: llama.cpp decides (flash attention on the CPU); False: plain attention.
    cparams.flash_attn_type = (ll.LLAMA_FLASH_ATTN_TYPE_AUTO if flash_attn is None else
                               ll.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn else
                               ll.LLAMA_FLASH_ATTN_TYPE_DISABLED)
    return cparams


class LlamaHandle(Vocab):
    """One model and one context. Not thread-safe: callers serialise access."""

    def __init__(self, path: str, *, n_ctx: int, n_threads: int, n_seq_max: int = 1,
                 n_batch: int = 512, embeddings: bool = False, kv_unified: bool = True,
                 n_gpu_layers: int = 0, adapters: Sequence[tuple[str, float]] = (),
                 adaptive_threads: bool = False, flash_attn: bool | None = None,
                 exact_attention: bool = False):
        backend_init()
        import llama_cpp as ll

        self.ll = ll
        # Layers offloaded to the GPU; a CPU-only build ignores this and says so here.
        self.gpu_offload = bool(ll.llama_supports_gpu_offload())
        self.n_gpu_layers = n_gpu_layers if self.gpu_offload else 0
        # One loaded model per file, shared with other contexts (a base and its tuned variants).
        self.shared: llama_models.SharedModel | None = llama_models.acquire(ll, path, self.n_gpu_layers)
        self.model = self.shared.ptr
        try:
            self.adapters = [llama_models.adapter(ll, self.shared, p) for p, _ in adapters]
        except EngineError:
            self._release()
            raise
        self._init_vocab()
        self.n_ctx_train = int(ll.llama_model_n_ctx_train(self.model))
        cparams = _context_params(ll, n_ctx=n_ctx, n_batch=n_batch, n_seq_max=n_seq_max,
                                  n_threads=n_threads, kv_unified=kv_unified, embeddings=embeddings,
                                  flash_attn=flash_attn, exact_attention=exact_attention)
        self.ctx = ll.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            self._release()
            raise EngineError(f"llama.cpp could not create a context of {n_ctx} tokens for {path}",
                              "lower the context size with --ctx")
        if self.adapters:
            self._set_adapters([s for _, s in adapters])
        self.n_ctx = int(ll.llama_n_ctx(self.ctx))
        self.kv_unified = kv_unified
        self.exact_attention = exact_attention
        self.n_ctx_seq = int(ll.llama_n_ctx_seq(self.ctx))  # n_ctx, or its share per sequence if split
        self.n_batch = n_batch
        self.n_seq_max = n_seq_max
        self.n_threads = n_threads   # the most llama.cpp may use; the governor may use fewer
        self.governor = ThreadGovernor(n_threads, adaptive=adaptive_threads)
        self._threads_set = n_threads
        self.mem = ll.llama_get_memory(self.ctx)
        self.batch = ll.llama_batch_init(n_batch, 0, n_seq_max)
        self._init_abort()

    # --- stopping a decode midway -----------------------------------------------------------
    def _init_abort(self) -> None:
        """llama.cpp asks an abort callback between the graph's operations (~1,000 per decode).
        A Python callback would take the GIL each time; libc's strlen over a two-byte flag answers
        without it: "" -> 0 (go on), "\\x01" -> 1 (abort). Both ABIs we run on (x86-64, arm64)
        return the size in the register whose low byte is read as the bool."""
        self._abort_flag = ctypes.create_string_buffer(2)
        self._abort_cb = ctypes.cast(ctypes.CDLL(None).strlen, self.ll.ggml_abort_callback)
        self.ll.llama_set_abort_callback(self.ctx, self._abort_cb,
                                         ctypes.cast(self._abort_flag, ctypes.c_void_p))

    def abort(self) -> None:
        """Stop the decode now running (thread-safe); it raises DecodeAborted, nothing applied."""
        self._abort_flag[0] = b"\x01"

    def clear_abort(self) -> None:
        self._abort_flag[0] = b"\x00"

    # --- LoRA adapters ----------------------------------------------------------------------
    def _set_adapters(self, scales: Sequence[float]) -> None:
        n = len(self.adapters)
        arr = (self.ll.llama_adapter_lora_p_ctypes * n)(*self.adapters)
        rc = self.ll.llama_set_adapters_lora(self.ctx, arr, n, (ctypes.c_float * n)(*scales))
        if rc != 0:
            raise EngineError(f"llama.cpp could not attach {n} LoRA adapter(s) (status {rc})")

    # --- decoding ---------------------------------------------------------------------------
    def decode(self, tokens: Sequence[int], positions: Sequence[int], seq_ids: Sequence[int],
               want_logits: Sequence[bool]) -> None:
        """Evaluate up to n_batch tokens; token i belongs to sequence seq_ids[i] at positions[i]."""
        n = len(tokens)
        if n > self.n_batch:
            raise EngineError(f"batch of {n} tokens exceeds n_batch={self.n_batch}")
        b = self.batch
        for i in range(n):
            b.token[i] = tokens[i]
            b.pos[i] = positions[i]
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq_ids[i]
            b.logits[i] = 1 if want_logits[i] else 0
        b.n_tokens = n
        threads = self.governor.threads()
        if threads != self._threads_set:
            self.ll.llama_set_n_threads(self.ctx, threads, threads)
            self._threads_set = threads
        rc = self.ll.llama_decode(self.ctx, b)
        if rc == 1:
            raise ContextOverflowError(max(positions) + 1, self.n_ctx)
        if rc == 2:   # aborted: llama.cpp removed this batch's cells from every sequence in it
            raise DecodeAborted()
        if rc != 0:
            raise EngineError(f"llama_decode failed with status {rc}")

    def decode_sequence(self, tokens: Sequence[int], start: int, seq_id: int = 0,
                        logits_last: bool = True) -> None:
        """Evaluate a run of tokens for one sequence in n_batch chunks; logits only for the last."""
        for off in range(0, len(tokens), self.n_batch):
            part = tokens[off: off + self.n_batch]
            last = off + len(part) == len(tokens)
            self.decode(part, range(start + off, start + off + len(part)), [seq_id] * len(part),
                        [logits_last and last and i == len(part) - 1 for i in range(len(part))])

    def decode_grid(self, tokens: Sequence[int], start: int, seq_id: int = 0) -> None:
        """Evaluate a run of tokens at start.. in chunks cut at multiples of GRID (absolute
        positions), logits for the last token only. A position's values then never depend on
        where the previous request's cached prefix happened to end (see GRID)."""
        pos, end = start, start + len(tokens)
        while pos < end:
            stop = min(end, (pos // GRID + 1) * GRID)
            part = tokens[pos - start: stop - start]
            self.decode(part, range(pos, stop), [seq_id] * len(part),
                        [stop == end and i == len(part) - 1 for i in range(len(part))])
            pos = stop

    def logits(self, i: int) -> np.ndarray:
        """Logits of the i-th output of the last decode (a copy, shape [n_vocab], float32)."""
        ptr = self.ll.llama_get_logits_ith(self.ctx, i)
        if not ptr:
            raise EngineError(f"no logits for batch index {i}")
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    # --- sampling ---------------------------------------------------------------------------
    def new_sampler(self, *, temperature: float, top_k: int, top_p: float, min_p: float,
                    repeat_penalty: float, seed: int | None, grammar: str | None = None,
                    frequency_penalty: float = 0.0, presence_penalty: float = 0.0) -> Any:
        return make_sampler(self, temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                            repeat_penalty=repeat_penalty, seed=seed, grammar=grammar,
                            frequency_penalty=frequency_penalty, presence_penalty=presence_penalty)

    def sample(self, sampler: Any, i: int) -> int:
        """Sample a token from the i-th output of the last decode (-1: the last output)."""
        return int(self.ll.llama_sampler_sample(sampler, self.ctx, i))

    def free_sampler(self, sampler: Any) -> None:
        free_sampler(self, sampler)

    # --- KV cache -----------------------------------------------------------------------------
    def seq_rm(self, seq_id: int, p0: int = -1, p1: int = -1) -> bool:
        return bool(self.ll.llama_memory_seq_rm(self.mem, seq_id, p0, p1))

    def seq_cp(self, src: int, dst: int, p0: int = -1, p1: int = -1) -> None:
        """Give dst the cells of src in [p0, p1). With a split cache the sequences live in different
        streams and llama.cpp copies only whole streams, so the whole of src is copied and dst is
        trimmed to [p0, p1) afterwards."""
        if self.kv_unified or src == dst:
            self.ll.llama_memory_seq_cp(self.mem, src, dst, p0, p1)
            return
        self.ll.llama_memory_seq_cp(self.mem, src, dst, -1, -1)
        if p1 >= 0:
            self.seq_rm(dst, p1, -1)
        if p0 > 0:
            self.seq_rm(dst, 0, p0)

    def clear(self) -> None:
        self.ll.llama_memory_clear(self.mem, True)

    def close(self) -> None:
        if getattr(self, "ctx", None):
            self.ll.llama_batch_free(self.batch)
            self.ll.llama_free(self.ctx)
            self.ctx = None
        self._release()

    def _release(self) -> None:
        shared = getattr(self, "shared", None)
        if shared is not None:
            self.shared = None
            llama_models.release(self.ll, shared)


def make_sampler(handle: LlamaHandle, *, temperature: float, top_k: int, top_p: float, min_p: float,
                 repeat_penalty: float, seed: int | None, grammar: str | None = None,
                 frequency_penalty: float = 0.0, presence_penalty: float = 0.0, draw: bool = True):
    """A llama.cpp sampler chain for these parameters (caller frees it with free_sampler).

    draw=False leaves out the final random draw of a sampled chain: applied to logits, the chain
    then leaves the candidates and scaled logits the draw would pick from (engines/sampling.py)."""
    if grammar:
        check_grammar(grammar)   # before llama.cpp parses it: bounded size, nesting, repetitions
    ll = handle.ll
    chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
    add = lambda s: ll.llama_sampler_chain_add(chain, s)  # noqa: E731
    if grammar:
        g = ll.llama_sampler_init_grammar(handle.vocab, grammar.encode(), b"root")
        if not g:  # llama.cpp rejects some grammars the converter emits; a NULL sampler would crash
            ll.llama_sampler_free(chain)
            raise InvalidParamsError("llama.cpp could not compile the grammar (from the JSON schema or "
                                     "as given)", param="grammar", hint="simplify the schema or check the GBNF")
        add(g)
    if repeat_penalty != 1.0 or frequency_penalty or presence_penalty:  # over the last 64 tokens
        add(ll.llama_sampler_init_penalties(handle.n_vocab, 64, repeat_penalty, frequency_penalty,
                                            presence_penalty))
    if temperature <= 0:
        add(ll.llama_sampler_init_greedy())
        return chain
    if top_k > 0:
        add(ll.llama_sampler_init_top_k(top_k))
    if top_p < 1.0:
        add(ll.llama_sampler_init_top_p(top_p, 1))
    if min_p > 0:
        add(ll.llama_sampler_init_min_p(min_p, 1))
    add(ll.llama_sampler_init_temp(temperature))
    if draw:
        add(ll.llama_sampler_init_dist(ll.LLAMA_DEFAULT_SEED if seed is None else seed & 0xFFFFFFFF))
    return chain


def free_sampler(handle: LlamaHandle, chain) -> None:
    if chain:
        handle.ll.llama_sampler_free(chain)
