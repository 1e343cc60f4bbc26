"""`bakeoff tune BASE --data FILE --name NAME`, as phases: check everything that can be checked
before loading torch, train (resumable), export the adapter, bake off base against tuned on the
held-out cases, and only then register the model (its lineage file is written last)."""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from ..errors import InvalidParamsError, ModelFileError, TrainingError
from ..evals.runner import Progress
from ..models.filehash import file_sha256
from ..models.gguf_info import GGUFInfo, read_gguf_info
from ..models.ref import Adapter, ModelRef
from ..models.registry import Registry
from ..settings import Settings
from .config import TuneConfig
from .data import Dataset, load_dataset
from .export import BaseShape, check_tunable, write_adapter
from .registry import (
    ADAPTER_FILE,
    CHECKPOINT_FILE,
    HeldOut,
    Lineage,
    MergedFile,
    read_lineage,
    tuned_dir,
    write_lineage,
)
from .tokens import Encoded, encode_all
from .train import Trainer, TrainProgress, TrainResult, attach_lora, check_fits, load_base

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class TuneRequest:
    base: str
    name: str
    data: Path
    eval_file: Path | None = None
    cfg: TuneConfig = field(default_factory=TuneConfig)
    threads: int | None = None
    restart: bool = False
    compare: bool = True          # bake off base against tuned on the held-out cases
    merge: str | None = None      # also write a merged GGUF: "same" (the base's types) or "F16"


@dataclass
class Prepared:
    base: ModelRef
    info: GGUFInfo
    dataset: Dataset
    encoded: list[Encoded]
    name: str                     # BASE+NAME
    folder: Path
    base_sha256: str


@dataclass
class TuneOutcome:
    ref: ModelRef
    lineage: Lineage
    run: dict | None
    report: Path | None = None
    merged: MergedFile | None = None


def resolve_base(name: str, settings: Settings) -> tuple[ModelRef, GGUFInfo]:
    ref = Registry(settings).resolve(name)
    if not ref.path or ref.engine != "llamacpp":
        raise ModelFileError(ref.name, "is not a local GGUF model", "tune a model listed by `bakeoff models`")
    if ref.adapters:
        raise InvalidParamsError(f"{ref.name} is already a tuned model",
                                 hint=f"tune its base instead: {ref.name.split('+')[0]}")
    info = read_gguf_info(ref.path)
    check_tunable(info.architecture)
    return ref, info


def prepare(req: TuneRequest, settings: Settings) -> Prepared:
    """Everything that can fail fast: names, base, data, leakage, lengths. No torch yet."""
    if not _NAME.match(req.name):
        raise InvalidParamsError(f"invalid name {req.name!r}", param="name",
                                 hint="use letters, digits, '.', '_' or '-' (at most 64)")
    base, info = resolve_base(req.base, settings)
    dataset = load_dataset(req.data, req.eval_file, eval_fraction=req.cfg.eval_fraction, seed=req.cfg.seed)
    from ..engines.chat_template import ChatRenderer
    from ..engines.llama_lowlevel import VocabOnly

    vocab = VocabOnly(base.path)  # type: ignore[arg-type]
    try:
        encoded = encode_all(dataset.train, ChatRenderer(vocab, info.chat_template), req.cfg.max_length)
    finally:
        vocab.close()
    name = f"{base.name}+{req.name}"
    folder = tuned_dir(settings, name)
    if req.restart and folder.exists():
        shutil.rmtree(folder)
    if read_lineage(folder) is not None:
        raise TrainingError(f"{name} already exists", "pick another --name, or pass --restart to replace it")
    sha = file_sha256(str(base.path), settings)
    return Prepared(base, info, dataset, encoded, name, folder, sha)


def train(p: Prepared, req: TuneRequest, progress: TrainProgress) -> TrainResult:
    import torch

    need, have = check_fits(p.info, req.cfg, p.encoded)
    progress.note(f"{len(p.encoded)} training examples; memory estimate {need / 2 ** 30:.1f} GiB "
                  f"of {have / 2 ** 30:.1f} GiB available")
    if req.threads:
        torch.set_num_threads(req.threads)
    torch.manual_seed(req.cfg.seed)
    progress.note(f"loading {p.base.name} from {Path(p.info.path).name} (dequantized to float32)")
    model = attach_lora(load_base(p.info), req.cfg)
    p.folder.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(model, req.cfg, p.encoded, p.folder / CHECKPOINT_FILE,
                      req.cfg.identity(p.base_sha256, p.dataset.sha256), progress)
    return trainer.run()


def export(p: Prepared, req: TuneRequest, result: TrainResult) -> ModelRef:
    shape = BaseShape(p.info.architecture, p.info.n_layer or 0, p.info.n_head or 0,
                      p.info.n_head_kv or p.info.n_head or 0)
    path = write_adapter(p.folder / ADAPTER_FILE, result.pairs, shape, req.cfg.alpha, p.name)
    return ModelRef(name=p.name, engine="llamacpp", source="tuned", path=p.base.path,
                    adapters=[Adapter(str(path))])


def max_answer_tokens(p: Prepared) -> int:
    learned = max((e.n_learned for e in p.encoded), default=32)
    return min(1024, int(learned * 1.5) + 8)


def versions() -> dict[str, str]:
    out = {}
    for pkg in ("bakeoff", "torch", "transformers", "peft", "llama-cpp-python", "gguf"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def lineage(p: Prepared, req: TuneRequest, result: TrainResult, held: HeldOut | None,
            settings: Settings) -> Lineage:
    return Lineage(name=p.name, base=p.base.name, base_path=str(p.base.path), base_sha256=p.base_sha256,
                   adapter_sha256=file_sha256(str(p.folder / ADAPTER_FILE), settings),
                   data_files=p.dataset.files, data_sha256=p.dataset.sha256,
                   n_train=len(p.dataset.train), n_eval=len(p.dataset.eval),
                   hyperparameters={**req.cfg.model_dump(mode="json"), "threads": req.threads},
                   loss_curve=[round(x, 5) for x in result.state.losses], steps=result.state.step,
                   train_seconds=round(result.state.seconds, 2), train_tokens=result.state.tokens,
                   versions=versions(), held_out=held,
                   created=datetime.now(UTC).isoformat(timespec="seconds"))


def tune(req: TuneRequest, settings: Settings, progress: TrainProgress,
         eval_progress: Progress | None = None) -> TuneOutcome:
    from .compare import compare, write_report, write_suite

    p = prepare(req, settings)
    t0 = time.perf_counter()
    result = train(p, req, progress)
    ref = export(p, req, result)
    held, run = None, None
    if req.compare and p.dataset.eval:
        progress.note(f"bakeoff on {len(p.dataset.eval)} held-out cases: {p.base.name} vs {p.name}")
        suite = write_suite(p.dataset.eval, p.folder, p.name, max_answer_tokens(p))
        held, run = compare(suite, p.base, ref, settings, req.threads, eval_progress)
    record = lineage(p, req, result, held, settings)
    report = write_report(run, record.loss_curve, p.name, held, settings) if run and held else None
    write_lineage(p.folder, record)          # registration: from here on the model is listed
    (p.folder / CHECKPOINT_FILE).unlink(missing_ok=True)
    merged = None
    if req.merge:
        from .merge import merge_tuned

        progress.note(f"registered {p.name}; folding the adapter into a standalone GGUF "
                      f"(if this stops, `bakeoff merge {p.name}` finishes it)")
        merged, _ = merge_tuned(record, p.folder, req.merge, settings)
    progress.note(f"done in {time.perf_counter() - t0:.0f} s")
    return TuneOutcome(ref, record, run, report, merged)
