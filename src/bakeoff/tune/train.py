"""Train a LoRA adapter on CPU with transformers + peft, on the base loaded from its own GGUF file.

transformers reads the GGUF and dequantizes it to float32, so the adapter learns against the very
weights llama.cpp will apply it to (up to llama.cpp's own rounding when it runs the quantized
file). The loop is ours, in named phases: `batches` (seeded order), `batch_loss` (loss on learned
tokens only, logits computed for those tokens alone), `optimizer_step`, `save_checkpoint`.
A checkpoint is written each epoch, every `save_steps`, and on Ctrl-C; the same command resumes
from it after any stop, kill -9 included.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psutil

from ..errors import DivergedError, TrainingError, UnsupportedError, WontFitError
from ..models.gguf_info import GGUFInfo
from .config import TuneConfig
from .export import LoraPair, check_tunable, lora_pairs
from .tokens import IGNORE, Encoded

DIVERGE_FACTOR = 3.0     # mean loss of the last 10 steps above 3x the first 10: diverged
WINDOW = 10


class TrainProgress(Protocol):
    def begin(self, total_steps: int, done_steps: int) -> None: ...
    def step(self, step: int, loss: float, lr: float) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass
class TrainState:
    step: int = 0                                   # optimizer steps done
    losses: list[float] = field(default_factory=list)   # mean loss per learned token, per step
    seconds: float = 0.0                            # training time, summed over resumed runs
    tokens: int = 0                                 # tokens through forward + backward


@dataclass
class TrainResult:
    pairs: list[LoraPair]
    state: TrainState
    total_steps: int
    resumed_from: int


# --- loading -------------------------------------------------------------------------------------

def supported_by_transformers() -> list[str]:
    from transformers.integrations.ggml import GGUF_CONFIG_MAPPING

    return sorted(GGUF_CONFIG_MAPPING)


def load_base(info: GGUFInfo):
    """The base model, dequantized to float32 from its GGUF file by transformers."""
    check_tunable(info.architecture)
    if info.architecture not in supported_by_transformers():
        raise UnsupportedError(f"transformers cannot read {info.architecture!r} GGUF files",
                               f"it reads: {', '.join(supported_by_transformers())}")
    import functools

    import torch
    import transformers.modeling_gguf_pytorch_utils as gguf_utils
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    # transformers' GGUF loader draws a tqdm bar of its own on stderr; ours is the only one shown.
    gguf_utils.tqdm = functools.partial(gguf_utils.tqdm, disable=True)

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path = Path(info.path)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                     dtype=torch.float32)
    except (ValueError, NotImplementedError, KeyError) as exc:
        raise UnsupportedError(f"transformers could not load {path.name}: {exc}",
                               f"supported base architectures: {', '.join(supported_by_transformers())}") from None
    model.config.use_cache = False
    return model


def attach_lora(model, cfg: TuneConfig):
    from peft import LoraConfig, get_peft_model

    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    unknown = [t for t in cfg.targets if t not in names]
    if unknown:
        raise UnsupportedError(f"no module named {', '.join(unknown)} in this model",
                               f"target modules are Hugging Face names, e.g. {', '.join(cfg.targets[:3])}")
    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha,  # type: ignore[arg-type]  # peft types it int, uses a float lora_dropout=cfg.dropout,
                      target_modules=list(cfg.targets), bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


# --- memory --------------------------------------------------------------------------------------

def estimate_bytes(info: GGUFInfo, cfg: TuneConfig, longest: int, learned: int) -> int:
    """Peak memory of a training step, float32: weights, LoRA with grads and AdamW moments,
    activations kept for backward (about 14 hidden-size and 5 FFN-size vectors per token per layer,
    plus the attention scores), logits for the learned tokens, and the runtime."""
    h = info.n_embd or 0
    layers = info.n_layer or 0
    heads = info.n_head or 1
    ffn = int(info.metadata.get(f"{info.architecture}.feed_forward_length") or 4 * h)
    tokens = cfg.batch_size * longest
    lora = layers * len(cfg.targets) * cfg.rank * (h + max(h, ffn)) * 4 * 4
    acts = tokens * layers * (14 * h + 5 * ffn) * 4 + cfg.batch_size * layers * heads * longest ** 2 * 8
    logits = cfg.batch_size * learned * (info.n_vocab or 0) * 4 * 3
    return info.n_params * 4 + lora + acts + logits + (400 << 20)


def check_fits(info: GGUFInfo, cfg: TuneConfig, encoded: list[Encoded]) -> tuple[int, int]:
    """(bytes needed, bytes available); raises WontFitError when training cannot fit."""
    longest = max(len(e.input_ids) for e in encoded)
    learned = max(e.n_learned for e in encoded)
    need = estimate_bytes(info, cfg, longest, learned)
    have = psutil.virtual_memory().available
    if need > have:
        raise WontFitError(need, have, "lower --batch-size (raise --grad-accum to keep the "
                           "effective batch) or --max-length, or close other programs")
    return need, have


# --- the loop ------------------------------------------------------------------------------------

def batches(n: int, cfg: TuneConfig, epoch: int) -> list[list[int]]:
    """Example indices per forward pass; the order is a function of (seed, epoch) alone, so a
    resumed run sees the batches the stopped one would have."""
    order = list(range(n))
    random.Random(cfg.seed * 100_003 + epoch).shuffle(order)
    return [order[i: i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]


def collate(encoded: list[Encoded], idx: list[int]):
    import torch

    rows = [encoded[i] for i in idx]
    width = max(len(r.input_ids) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r.input_ids)
        ids[i, :n] = torch.tensor(r.input_ids)
        labels[i, :n] = torch.tensor(r.labels)
        mask[i, :n] = 1
    return ids, mask, labels


def batch_loss(model, ids, mask, labels):
    """Summed cross-entropy over learned tokens, and their count. Logits are computed only where
    a learned token is predicted ([N, vocab] instead of [B, T, vocab])."""
    import torch.nn.functional as F

    base = model.get_base_model()
    hidden = base.get_decoder()(input_ids=ids, attention_mask=mask).last_hidden_state  # [B, T, H]
    target = labels[:, 1:]                       # position t predicts token t + 1
    keep = target != IGNORE
    logits = base.get_output_embeddings()(hidden[:, :-1][keep]).float()                 # [N, V]
    return F.cross_entropy(logits, target[keep], reduction="sum"), int(keep.sum())


def lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def check_loss(state: TrainState, loss: float) -> None:
    step = state.step + 1
    if not math.isfinite(loss):
        raise DivergedError(step, loss, "the loss is not a number")
    history = state.losses + [loss]
    if len(history) >= 2 * WINDOW:
        first = sum(history[:WINDOW]) / WINDOW
        last = sum(history[-WINDOW:]) / WINDOW
        if last > DIVERGE_FACTOR * first:
            raise DivergedError(step, loss, f"the loss grew from {first:.3g} to {last:.3g}")


# --- checkpoints ---------------------------------------------------------------------------------

def save_checkpoint(path: Path, identity: str, model, optimizer, state: TrainState) -> None:
    import torch
    from peft import get_peft_model_state_dict

    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save({"identity": identity, "lora": get_peft_model_state_dict(model),
                "optimizer": optimizer.state_dict(), "state": state.__dict__}, tmp)
    os.replace(tmp, path)   # atomic: a kill during the write keeps the previous checkpoint


def load_checkpoint(path: Path, identity: str, model, optimizer) -> TrainState | None:
    import torch
    from peft import set_peft_model_state_dict

    if not path.exists():
        return None
    try:
        saved: dict[str, Any] = torch.load(path, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - a damaged checkpoint is reported, never trusted
        raise TrainingError(f"checkpoint {path} cannot be read: {exc}",
                            "run again with --restart to start over") from None
    if saved.get("identity") != identity:
        raise TrainingError(f"{path} is a checkpoint of a different tune (base, data or "
                            "hyperparameters differ)",
                            "run the original command to resume it, or pass --restart to discard it")
    set_peft_model_state_dict(model, saved["lora"])
    optimizer.load_state_dict(saved["optimizer"])
    return TrainState(**saved["state"])


# --- training ------------------------------------------------------------------------------------

@dataclass
class Trainer:
    model: Any                   # peft model
    cfg: TuneConfig
    encoded: list[Encoded]
    checkpoint: Path
    identity: str
    progress: TrainProgress

    def __post_init__(self) -> None:
        import torch

        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        per_epoch = math.ceil(math.ceil(len(self.encoded) / self.cfg.batch_size) / self.cfg.grad_accum)
        self.per_epoch = per_epoch
        self.total = min(self.cfg.max_steps or per_epoch * self.cfg.epochs, per_epoch * self.cfg.epochs)
        self.warmup = int(self.total * self.cfg.warmup)
        self.state = TrainState()

    def groups(self, step: int) -> list[list[int]]:
        """The batches of optimizer step `step` (0-based)."""
        epoch, k = divmod(step, self.per_epoch)
        return batches(len(self.encoded), self.cfg, epoch)[k * self.cfg.grad_accum:(k + 1) * self.cfg.grad_accum]

    def optimizer_step(self) -> float:
        import torch

        torch.manual_seed(self.cfg.seed * 1_000_003 + self.state.step)  # dropout, resumable
        group = [collate(self.encoded, idx) for idx in self.groups(self.state.step)]
        n_learned = sum(int((labels[:, 1:] != IGNORE).sum()) for _, _, labels in group)
        total = 0.0
        for ids, mask, labels in group:
            loss, _ = batch_loss(self.model, ids, mask, labels)
            (loss / n_learned).backward()
            total += float(loss.detach())
            self.state.tokens += int(mask.sum())
        mean = total / max(1, n_learned)
        check_loss(self.state, mean)
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], 1.0)
        lr = self.cfg.lr * lr_factor(self.state.step, self.total, self.warmup)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        self.state.losses.append(mean)
        self.progress.step(self.state.step, mean, lr)
        return mean

    def save(self) -> None:
        save_checkpoint(self.checkpoint, self.identity, self.model, self.optimizer, self.state)

    def run(self) -> TrainResult:
        self.state = load_checkpoint(self.checkpoint, self.identity, self.model, self.optimizer) or TrainState()
        start = self.state.step
        if start:
            self.progress.note(f"resuming from the checkpoint at step {start} of {self.total}")
        self.model.train()
        self.progress.begin(self.total, start)
        t0, base_seconds = time.perf_counter(), self.state.seconds
        try:
            while self.state.step < self.total:
                self.optimizer_step()
                self.state.seconds = base_seconds + time.perf_counter() - t0
                if self.state.step % self.per_epoch == 0 or self.state.step % self.cfg.save_steps == 0:
                    self.save()
        except KeyboardInterrupt:
            self.save()
            self.progress.note(f"interrupted: checkpoint saved at step {self.state.step} of "
                               f"{self.total}; run the same command to resume")
            raise
        self.state.seconds = base_seconds + time.perf_counter() - t0
        self.model.eval()
        return TrainResult(lora_pairs(self.model), self.state, self.total, start)
