"""Match local GGUF files to catalog entries, so `bakeoff models` can show licence and openness.

Evidence, strongest first: the Hugging Face repo the file says it came from
(general.source.huggingface.repository / general.source.url), general.name equal to an entry's
name or id, general.basename + general.size_label (+ general.finetune) within a family, and last
general.base_model.N.* (the file is then a descendant of that entry and inherits its licence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import BakeoffError, ModelFileError
from ..models.gguf_info import read_gguf_info
from ..models.registry import Registry
from .load import Catalog, catalog
from .openness import scorecard
from .schema import Entry


def norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


@dataclass
class Match:
    entry: Entry
    how: str            # repo | name | basename+size | base model
    descendant: bool = False


def _repo_from_url(url: str) -> str | None:
    m = re.match(r"https?://(?:www\.)?huggingface\.co/([\w.\-]+/[\w.\-]+)", url or "")
    return m.group(1) if m else None


def by_repo(cat: Catalog, repo: str | None) -> Entry | None:
    if not repo:
        return None
    key = repo.lower()
    for e in cat.entries.values():
        if e.hf_repo.lower() == key or key in (r.lower() for r in e.gguf_repos):
            return e
    return None


def _by_basename(cat: Catalog, meta: dict[str, Any]) -> Entry | None:
    base, size = meta.get("general.basename"), meta.get("general.size_label")
    if not isinstance(base, str) or not isinstance(size, str):
        return None
    fam, label = norm(base), re.sub(r"[^0-9a-z.x]", "", size.lower())
    cands = [e for e in cat.entries.values() if norm(e.family) == fam and e.label_key() == label]
    if len(cands) > 1:
        tuned = norm(str(meta.get("general.finetune") or ""))
        wants_chat = any(w in tuned for w in ("instruct", "chat", "it"))
        cands = [e for e in cands if (e.base is not None or "instruct" in e.id) == wants_chat] or cands
    return cands[0] if cands else None


def match_metadata(cat: Catalog, meta: dict[str, Any]) -> Match | None:
    repo = meta.get("general.source.huggingface.repository") or _repo_from_url(
        str(meta.get("general.source.url") or ""))
    if (e := by_repo(cat, repo)) is not None:
        return Match(e, "repo")
    name = meta.get("general.name")
    if isinstance(name, str):
        key = norm(name)
        for e in cat.entries.values():
            if key in (norm(e.name), norm(e.id), norm(e.hf_repo.split("/")[-1])):
                return Match(e, "name")
    if (e := _by_basename(cat, meta)) is not None:
        return Match(e, "basename+size")
    for i in range(int(meta.get("general.base_model.count") or 0)):
        repo = meta.get(f"general.base_model.{i}.repo_url")
        org, bname = meta.get(f"general.base_model.{i}.organization"), meta.get(f"general.base_model.{i}.name")
        e = by_repo(cat, _repo_from_url(str(repo or ""))) or (
            by_repo(cat, f"{org}/{bname}") if org and bname else None)
        if e is not None:
            return Match(e, "base model", descendant=True)
    return None


def match_ref(cat: Catalog, repo: str | None, meta: dict[str, Any]) -> Match | None:
    """A file found in a store that names its Hugging Face repo (HF cache, LM Studio, Ollama's hf.co
    models) matches by that repo first; otherwise by what the file says about itself."""
    entry = by_repo(cat, repo)
    return Match(entry, "repo") if entry is not None else match_metadata(cat, meta)


def annotate_rows(rows: list[dict[str, Any]]) -> None:
    """For `bakeoff models`: add catalog id, licence and openness to local files."""
    cat = catalog()
    for r in rows:
        if r.get("status") != "ok" or not r.get("path"):
            continue
        try:
            meta = read_gguf_info(r["path"]).metadata
        except ModelFileError:
            continue
        m = match_ref(cat, r.get("repo"), meta)
        if m is None:
            r.update(catalog_id=None, openness="not in catalog")
            continue
        sc = scorecard(cat, m.entry)
        r.update(catalog_id=m.entry.id, catalog_match=m.how, descendant_of=m.entry.id if m.descendant else None,
                 license=r.get("license") or sc.licence, commercial=sc.commercial,
                 openness=sc.short_label, openness_tier=sc.tier)


def entry_for_model(cat: Catalog, name: str) -> str | None:
    """The catalog id for a model name the store knows (a registry name, alias or GGUF path). A
    tuned model (a base with a LoRA adapter, or a file merged from one) is none: it is a model of
    its own, so what it scores here is not evidence about its base's catalog entry."""
    if name.lower() in cat.entries:
        return name.lower()
    try:
        ref = Registry().resolve(name)
        meta = read_gguf_info(ref.path).metadata if ref.path else {}
    except BakeoffError:
        return None
    if ref.source == "tuned" or ref.adapters:
        return None
    m = match_ref(cat, ref.origin.repo if ref.origin else None, meta)
    return m.entry.id if m else None
