"""Write tests/unit/data/mot_unlicensed.yaml: for each Model Openness Tool file the catalog relies on,
the components the tool lists WITHOUT a licence of their own (the tool then resolves them to the
release's licence, which is not the component's). Read from a checkout of lfai/model_openness_tool.

Usage, from the repository root (MOT = a clone of github.com/lfai/model_openness_tool):
  .venv/bin/python docs/catalog-checks/mot_unlicensed.py MOT > tests/unit/data/mot_unlicensed.yaml
The models are those whose files the catalog cites: every entry's `mot.source`, and every MOT file a
component note names ("MOT <name>").
"""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from bakeoff.catalog.load import DATA_DIR, catalog
from bakeoff.catalog.schema import MOF_COMPONENTS

COMMIT = "8b5d30e90a7c62d7d6ece48b91e69ff495920a4d"
KEYS = {c.name: c.key for c in MOF_COMPONENTS}


def cited_models() -> list[str]:
    cat = catalog()
    names = {e.mot.source.rsplit("/", 1)[1].removesuffix(".yml") for e in cat.entries.values() if e.mot}
    text = "\n".join(p.read_text() for p in DATA_DIR.glob("*.yaml"))
    names |= set(re.findall(r"MOT(?:'s)? ([A-Za-z][\w.-]*\d[\w.-]*[A-Za-z0-9])", text))
    return sorted(names)


def show(mot: str, path: str) -> str | None:
    """A file of the MOT checkout at COMMIT, or None when it has no such file."""
    out = subprocess.run(["git", "-C", mot, "show", f"{COMMIT}:{path}"], capture_output=True, text=True)
    return None if out.returncode else out.stdout


def read_model(mot: str, model: str) -> dict | None:
    """The `release` of the MOT's models/<model>.yml, or None when the tool has no such file."""
    text = show(mot, f"models/{model}.yml")
    return yaml.safe_load(text)["release"] if text else None


def unlicensed(mot: str, model: str) -> list[str] | None:
    release = read_model(mot, model)
    if release is None:
        return None
    comps = release["components"]
    return sorted(KEYS[c["name"]] for c in comps if "license" not in c and KEYS[c["name"]] != "weights")


def main() -> None:
    mot = sys.argv[1]
    print("# Components each Model Openness Tool file lists without a licence of its own (the tool then")
    print("# resolves them to the release's licence). github.com/lfai/model_openness_tool models/*.yml at")
    print(f"# commit {COMMIT[:7]} (2026-05-11), written by docs/catalog-checks/mot_unlicensed.py.")
    print("# Weights are left out: their licence is each entry's own `license`.")
    data = {}
    for model in cited_models():
        comps = unlicensed(mot, model)
        if comps is not None:
            data[model] = comps
    print(yaml.safe_dump({"commit": COMMIT, "unlicensed": data}, sort_keys=True, width=110), end="")


if __name__ == "__main__":
    main()
