"""Load and cross-check the catalog YAML shipped in bakeoff/catalog/data/."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import CatalogError, NotFoundError
from .schema import UNKNOWN_LICENCE, Entry, Family, Licence, Openness

DATA_DIR = Path(__file__).with_name("data")


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CatalogError(f"not valid YAML: {exc}", file=path.name) from None
    if not isinstance(doc, dict):
        raise CatalogError("top level must be a mapping", file=path.name)
    return doc


def _parse(cls: type, raw: Any, file: str) -> Any:
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        ident = raw.get("id") if isinstance(raw, dict) else None
        raise CatalogError(f"{loc}: {err['msg']}" if loc else err["msg"], file=file, entry=ident) from None


@dataclass
class Catalog:
    licences: dict[str, Licence]
    families: dict[str, Family]
    entries: dict[str, Entry] = field(default_factory=dict)

    def get(self, entry_id: str) -> Entry:
        key = entry_id.strip().lower()
        if key in self.entries:
            return self.entries[key]
        ids = list(self.entries)
        close = difflib.get_close_matches(key, ids, n=3, cutoff=0.6)
        close += [i for i in ids if key and key in i and i not in close]
        raise NotFoundError("catalog entry", entry_id, close[:3] or None,
                            valid=None if close else sorted(ids)[:10] + ["… (`bakeoff catalog` lists all)"])

    def children(self, entry_id: str) -> list[Entry]:
        return [e for e in self.entries.values() if e.base == entry_id]

    def ancestors(self, entry: Entry) -> list[Entry]:
        """Base, base's base, ... (nearest first)."""
        chain, seen = [], {entry.id}
        while entry.base and entry.base in self.entries and entry.base not in seen:
            entry = self.entries[entry.base]
            seen.add(entry.id)
            chain.append(entry)
        return chain

    def openness(self, entry: Entry) -> tuple[Openness, str]:
        """The entry's openness record and where it comes from ('entry' or 'family <id>')."""
        if entry.openness is not None:
            return entry.openness, "entry"
        return self.families[entry.family].openness, f"family {entry.family}"

    def org(self, entry: Entry) -> str:
        return entry.org or self.families[entry.family].org

    def licence(self, entry: Entry) -> Licence:
        """The entry's own licence; UNKNOWN_LICENCE when no source we could check states it."""
        return self.licences[entry.license] if entry.license is not None else UNKNOWN_LICENCE

    def licence_chain(self, entry: Entry) -> list[tuple[Entry, Licence]]:
        """The entry's licence then each ancestor's: a derivative inherits its base's restrictions,
        unless the base's licensor released it under other terms (inherits_licence: false)."""
        chain = []
        for e in (entry, *self.ancestors(entry)):
            chain.append((e, self.licence(e)))
            if not e.inherits_licence:
                break
        return chain


def _check_component_licences(cat: Catalog, record: Openness | None, where: dict[str, str]) -> None:
    for key, comp in (record.components() if record else ()):
        if comp.license is not None and comp.license not in cat.licences:
            raise CatalogError(f"openness.{key}.license: unknown licence {comp.license!r}; "
                               f"known: {', '.join(sorted(cat.licences))}", **where)


def _check_refs(cat: Catalog, files: dict[str, str]) -> None:
    for fam in cat.families.values():
        _check_component_licences(cat, fam.openness, {"file": "families.yaml", "entry": fam.id})
    for e in cat.entries.values():
        where = {"file": files[e.id], "entry": e.id}
        _check_component_licences(cat, e.openness, where)
        if e.license is not None and e.license not in cat.licences:
            raise CatalogError(f"unknown licence {e.license!r}; known: {', '.join(sorted(cat.licences))}",
                               **where)
        if e.family not in cat.families:
            raise CatalogError(f"unknown family {e.family!r}; known: {', '.join(sorted(cat.families))}",
                               **where)
        if e.base is not None and e.base not in cat.entries:
            raise CatalogError(f"base {e.base!r} is not a catalog entry", **where)


def load_catalog(data_dir: Path | None = None) -> Catalog:
    data_dir = data_dir or DATA_DIR
    licences = {
        lic.id: lic for lic in (_parse(Licence, r, "licences.yaml")
                                for r in _read(data_dir / "licences.yaml").get("licences", []))
    }
    families = {
        fam.id: fam for fam in (_parse(Family, r, "families.yaml")
                                for r in _read(data_dir / "families.yaml").get("families", []))
    }
    if UNKNOWN_LICENCE.id in licences:
        raise CatalogError(f"licence id {UNKNOWN_LICENCE.id!r} is reserved: write `license: null` for an "
                           "unverified licence", file="licences.yaml")
    cat = Catalog(licences, families)
    files: dict[str, str] = {}
    for path in sorted(data_dir.glob("*.yaml")):
        for raw in _read(path).get("models", []):
            entry = _parse(Entry, raw, path.name)
            if entry.id in cat.entries:
                raise CatalogError(f"duplicate id (also in {files[entry.id]})", file=path.name, entry=entry.id)
            cat.entries[entry.id] = entry
            files[entry.id] = path.name
    _check_refs(cat, files)
    return cat


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The packaged catalog, loaded once per process."""
    return load_catalog()
