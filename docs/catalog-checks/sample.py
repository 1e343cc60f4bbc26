"""Draw a sample of sourced catalog facts to re-read against their sources (issue #19).

Universe: every sourced (owner, fact) pair of the shipped catalog, built as the first two checks
built it (seeds 1130 and 1131; see README.md here):
  per entry e
    (e.id, F) for F in released, params, languages, context, config, base, gguf with a URL in e.sources;
    (e.id, "license") always (source: notes.license, else the card);
    (e.id, "base") when e has a base but no sources.base (source: the card);
    (e.id, "mot") when e carries a Model Openness Tool verdict (source: the tool's yml);
    (e.id, "openness.KEY") for each open/partial component of an entry's own openness record;
  per family record: ("family:ID", "openness.KEY") for each open/partial component.
Strata (only for the stratified draws of the first two checks): NEW = released >= 2025-01, or released
unknown and the entry lives in recent.yaml; a family record is NEW when every entry using it is NEW.

Usage, from the repository root:
  .venv/bin/python docs/catalog-checks/sample.py --seed 1130 --strata 22 18
  D=docs/catalog-checks
  .venv/bin/python $D/sample.py --seed 1131 --strata 16 14 --exclude $D/sample-1130.tsv
  .venv/bin/python $D/sample.py --seed 1132 --n 40 --exclude $D/sample-1130.tsv $D/sample-1131.tsv
--n draws uniformly from the whole universe (no stratum over-weighted); --strata draws NEW first, then OLD.
"""

from __future__ import annotations

import argparse
import random
import sys

import yaml

from bakeoff.catalog.load import DATA_DIR, catalog

URL_FACTS = ("released", "params", "languages", "context", "config", "base", "gguf")


def universe() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(NEW, OLD) pairs, each list sorted."""
    cat = catalog()
    files = {raw["id"]: p.name for p in sorted(DATA_DIR.glob("*.yaml"))
             for raw in (yaml.safe_load(p.read_text()) or {}).get("models", []) or []}

    def is_new(e) -> bool:
        return (e.released is not None and e.released >= "2025-01") or (
            e.released is None and files[e.id] == "recent.yaml")

    new: list[tuple[str, str]] = []
    old: list[tuple[str, str]] = []
    for e in cat.entries.values():
        urls = e.sources.urls()
        items = [(e.id, f) for f in URL_FACTS if f in urls] + [(e.id, "license")]
        if e.base and "base" not in urls:
            items.append((e.id, "base"))
        if e.mot:
            items.append((e.id, "mot"))
        if e.openness is not None:
            items += [(e.id, "openness." + k) for k, c in e.openness.components() if c.status in ("open", "partial")]
        (new if is_new(e) else old).extend(items)
    for fam in cat.families.values():
        users = [e for e in cat.entries.values() if e.family == fam.id and e.openness is None]
        items = [("family:" + fam.id, "openness." + k) for k, c in fam.openness.components()
                 if c.status in ("open", "partial")]
        (new if users and all(is_new(e) for e in users) else old).extend(items)
    return sorted(new), sorted(old)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, required=True)
    how = ap.add_mutually_exclusive_group(required=True)
    how.add_argument("--n", type=int, help="uniform draw of N pairs from the whole universe")
    how.add_argument("--strata", type=int, nargs=2, metavar=("NEW", "OLD"))
    ap.add_argument("--exclude", nargs="*", default=[], help="TSV files of pairs drawn before")
    args = ap.parse_args()
    new, old = universe()
    exclude = {tuple(line.split("\t")) for path in args.exclude for line in open(path).read().splitlines()}
    print(f"# universe NEW={len(new)} OLD={len(old)} excluded={len(exclude)}", file=sys.stderr)
    rng = random.Random(args.seed)
    if args.n is not None:
        drawn = rng.sample(sorted(x for x in new + old if x not in exclude), args.n)
    else:
        drawn = (rng.sample([x for x in new if x not in exclude], args.strata[0])
                 + rng.sample([x for x in old if x not in exclude], args.strata[1]))
    for owner, fact in drawn:
        print(f"{owner}\t{fact}")


if __name__ == "__main__":
    main()
