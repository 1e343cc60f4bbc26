"""Tuned models on disk, and the registry source that lists them as `BASE+NAME`.

BAKEOFF_HOME/tuned/BASE+NAME/ holds adapter.gguf and lineage.json once a tune has finished (the
lineage file is written last, so a stopped tune is never listed), and checkpoint.pt while it runs.
This module imports no torch: listing models stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..atomic import write_text_atomic
from ..models.ref import Adapter, ModelRef
from ..settings import Settings

ADAPTER_FILE = "adapter.gguf"
LINEAGE_FILE = "lineage.json"
CHECKPOINT_FILE = "checkpoint.pt"


class HeldOut(BaseModel):
    """Base against tuned on the held-out cases (greedy), with the paired test."""

    model_config = ConfigDict(extra="forbid")
    n: int
    base_passed: int
    tuned_passed: int
    wins: int = Field(description="Cases the tuned model passes and the base fails.")
    losses: int = Field(description="Cases the base passes and the tuned model fails.")
    ties: int
    mcnemar_p: float = Field(description="Exact two-sided McNemar p-value on wins vs losses.")
    run_id: int | None = None


class MergedFile(BaseModel):
    """A standalone GGUF with the adapter folded into the base weights (`bakeoff merge`)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Model name: BASE+NAME-merged (-F16 when written as F16).")
    file: str = Field(description="File name inside the tuned model's folder.")
    tensor_type: str = Field(description="Type of the merged tensors: the base's (e.g. Q4_1), or F16.")
    sha256: str
    size_bytes: int
    created: str


class Lineage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    base: str
    base_path: str
    base_sha256: str
    adapter_sha256: str
    data_files: list[str]
    data_sha256: str
    n_train: int
    n_eval: int
    hyperparameters: dict[str, Any]
    loss_curve: list[float] = Field(description="Mean loss per learned token at each optimizer step.")
    steps: int
    train_seconds: float
    train_tokens: int
    versions: dict[str, str]
    created: str
    held_out: HeldOut | None = None
    merged: list[MergedFile] = Field(default_factory=list)


def tuned_dir(settings: Settings, name: str) -> Path:
    return settings.home / "tuned" / name


def write_lineage(folder: Path, lineage: Lineage) -> Path:
    path = folder / LINEAGE_FILE
    write_text_atomic(path, lineage.model_dump_json(indent=2))
    return path


def read_lineage(folder: Path) -> Lineage | None:
    path = folder / LINEAGE_FILE
    if not path.is_file() or not (folder / ADAPTER_FILE).is_file():
        return None
    try:
        return Lineage.model_validate_json(path.read_text())
    except ValueError:
        return None


def tuned_ref(lineage: Lineage, folder: Path, aliases: Iterable[str] = ()) -> ModelRef:
    suffix = lineage.name.split("+", 1)[1]
    return ModelRef(name=lineage.name, engine="llamacpp", source="tuned", path=lineage.base_path,
                    aliases=[f"{a}+{suffix}" for a in aliases],
                    adapters=[Adapter(str(folder / ADAPTER_FILE))])


def merged_refs(lineage: Lineage, folder: Path, aliases: Iterable[str] = ()) -> Iterable[ModelRef]:
    for m in lineage.merged:
        if (folder / m.file).is_file():
            suffix = m.name.split("+", 1)[1]
            yield ModelRef(name=m.name, engine="llamacpp", source="tuned", path=str(folder / m.file),
                           aliases=[f"{a}+{suffix}" for a in aliases])


def tuned_refs(settings: Settings) -> Iterable[ModelRef]:
    """Registry source: every finished tune whose base file is still where it was trained from,
    and the merged files made from it (standalone: listed even when the base has moved)."""
    from ..models.packaged import packaged_refs

    root = settings.home / "tuned"
    if not root.is_dir():
        return
    aliases = {r.name: r.aliases for r in packaged_refs(settings.models_dir)}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        lineage = read_lineage(folder)
        if lineage and Path(lineage.base_path).is_file():
            yield tuned_ref(lineage, folder, aliases.get(lineage.base, []))
        if lineage:
            yield from merged_refs(lineage, folder, aliases.get(lineage.base, []))


def lineage_of(ref: ModelRef, settings: Settings) -> Lineage | None:
    """Where a tuned model (BASE+NAME) or a merged one (its file in the tune's folder) came from."""
    if ref.source != "tuned":
        return None
    folder = tuned_dir(settings, ref.name) if ref.adapters else Path(ref.path or "").parent
    return read_lineage(folder)


def summary(lineage: Lineage) -> dict[str, Any]:
    """What `bakeoff show` prints about a tuned model, formatted once here."""
    hp = lineage.hyperparameters
    out = {"base": f"{lineage.base} (sha256 {lineage.base_sha256[:12]}…)",
           "data": f"{', '.join(lineage.data_files)} (sha256 {lineage.data_sha256[:12]}…; "
                   f"{lineage.n_train} train, {lineage.n_eval} held out)",
           "training": f"{lineage.steps} steps, {hp.get('epochs')} epochs, rank {hp.get('rank')}, "
                       f"alpha {hp.get('alpha')}, lr {hp.get('lr')}, {lineage.train_seconds:.0f} s",
           "loss": (f"{lineage.loss_curve[0]:.3f} → {lineage.loss_curve[-1]:.3f}"
                    if lineage.loss_curve else "?")}
    for m in lineage.merged:
        out[f"merged ({m.tensor_type})"] = f"{m.name}: {m.file}, {m.size_bytes / 2 ** 20:.0f} MiB"
    if lineage.held_out:
        h = lineage.held_out
        out["held out"] = (f"base {h.base_passed}/{h.n}, tuned {h.tuned_passed}/{h.n}; "
                           f"wins {h.wins}, losses {h.losses}, ties {h.ties}; McNemar p={h.mcnemar_p:.2g}")
    return out
