"""Write tests/unit/data/mot_verdicts.yaml: the Model Openness Tool's verdict for every catalog model the
tool has a file for, computed with the tool's own rules from a checkout of lfai/model_openness_tool.

Usage, from the repository root (MOT = a clone of github.com/lfai/model_openness_tool):
  .venv/bin/python docs/catalog-checks/mot_verdicts.py MOT > tests/unit/data/mot_verdicts.yaml

The tool keeps no verdicts in its repository: its site computes them from each models/*.yml. This
script does the same, following the tool's code at COMMIT, so that the class does not come from
catalog/mof.py, which the verdicts test:
- web/modules/mof/config/install/mof.settings.yml: each component's class, content type, and whether
  the class requires it;
- src/ModelUpdater.php and ModelEvaluator::resolveLicense: a component's licence is its own, else the
  release's licence for its content type, else the release's distribution licence; "unlicensed" is none;
- src/LicenseImporter.php and LicenseHandler::isOpenSourceLicense: licenses.json, then mof-licenses.json
  over it; a licence is open when FSF-libre, OSI-approved, on the open-data list or on the open list;
- ModelEvaluator::evaluate/getProgress/getClassification: a class needs every component it and the
  classes above require, open; a research paper stands in for the technical report.
Before writing, the port is run on the tool's own test files (Test_Data/*.yml, each named for the
progress the tool gives it) and stops on any class that differs.

A model is covered when a catalog entry cites its file (`mot.source`) or when the file's `huggingface`
link is the entry's Hugging Face repository; an entry found only by its link is named on stderr, since
it should cite the file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from dataclasses import dataclass

import yaml
from mot_unlicensed import COMMIT, KEYS, read_model, show

from bakeoff.catalog.load import catalog

MODULE = "web/modules/mof"
BLOB = f"https://github.com/lfai/model_openness_tool/blob/{COMMIT}/models"
TECH_REPORT, PAPER = "Technical report", "Research paper"
# LicenseHandler::OPEN_DATA_LICENSES and ::OPEN_LICENSES at COMMIT (constants in PHP, not in a data file).
OPEN_DATA = {"CC0-1.0", "CC-BY-1.0", "CC-BY-2.0", "CC-BY-2.5", "CC-BY-2.5-AU", "CC-BY-3.0", "CC-BY-3.0-AT",
             "CC-BY-3.0-AU", "CC-BY-3.0-DE", "CC-BY-3.0-IGO", "CC-BY-3.0-NL", "CC-BY-3.0-US", "CC-BY-4.0",
             "CC-BY-SA-1.0", "CC-BY-SA-2.0", "CC-BY-SA-2.0-UK", "CC-BY-SA-2.1-JP", "CC-BY-SA-2.5", "CC-BY-SA-3.0",
             "CC-BY-SA-3.0-AT", "CC-BY-SA-4.0", "CDLA-Permissive-1.0", "CDLA-Permissive-2.0", "CDLA-Sharing-1.0",
             "ODC-PDDL-1.0", "ODC-By-1.0", "ODbL-1.0", "GFDL-1.3", "OGL-Canada-2.0", "OGL-UK-2.0", "OGL-UK-3.0"}
OPEN_OTHER = {"OpenMDW-1.0"}


@dataclass(frozen=True)
class ToolComponent:
    name: str
    content_type: str
    mof_class: int
    required: bool
    weight: int                  # the order the tool shows components in


def tool_components(mot: str) -> list[ToolComponent]:
    settings = yaml.safe_load(show(mot, f"{MODULE}/config/install/mof.settings.yml"))
    return [ToolComponent(c["name"], c["content_type"], c["class"], c["required"], c["weight"])
            for c in settings["components"]]


def open_licences(mot: str) -> set[str]:
    """Licence ids the tool counts open. mof-licenses.json is imported after licenses.json and
    overwrites each licence it lists (LicenseImporter::import)."""
    db: dict[str, dict] = {}
    for name in ("licenses.json", "mof-licenses.json"):
        for lic in json.loads(show(mot, f"{MODULE}/{name}"))["licenses"]:
            db[lic["licenseId"]] = lic
    listed = {i for i, lic in db.items() if lic.get("isOsiApproved") or lic.get("isFsfLibre")}
    return listed | OPEN_DATA | OPEN_OTHER


def resolve(release: dict, comp: dict, content_type: str) -> str | None:
    """ModelUpdater stores a component's `license` ("unlicensed" as blank); resolveLicense falls back
    to the release's licence for the content type, then to its distribution licence."""
    if comp.get("license") is not None:
        return None if comp["license"] in ("", "unlicensed") else comp["license"]
    glob = release.get("license") or {}
    for level in (content_type, "distribution"):
        if (glob.get(level) or {}).get("name"):
            return glob[level]["name"]
    return None


def evaluate(release: dict, components: list[ToolComponent], is_open: set[str]) -> dict:
    """The tool's class (None: unclassified), the components the next class lacks, and each listed
    component's resolved licence."""
    listed = {c["name"]: c for c in release["components"]}
    spec = {c.name: c for c in components}
    licence = {n: resolve(release, c, spec[n].content_type) for n, c in listed.items()}
    counted = {n for n, lic in licence.items() if lic is not None and lic in is_open}
    paper_stands_in = TECH_REPORT not in counted and PAPER in counted
    achieved, needs = None, []
    for cls in (3, 2, 1):
        required = [c.name for c in components if c.mof_class == cls and c.required]
        lacking = [n for n in required if n not in counted and not (n == TECH_REPORT and paper_stands_in)]
        if lacking:
            needs = lacking
            break
        achieved = cls
    order = [c.name for c in sorted(components, key=lambda c: c.weight)]
    return {"mof_class": achieved, "next_class_needs": sorted(KEYS[n] for n in needs),
            "components": {KEYS[n]: licence[n] or "unlicensed" for n in sorted(listed, key=order.index)}}


def model_files(mot: str) -> list[str]:
    out = subprocess.run(["git", "-C", mot, "ls-tree", "--name-only", COMMIT, "models/"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(p.removeprefix("models/").removesuffix(".yml") for p in out.splitlines())


def linked_repos(mot: str, files: list[str]) -> dict[str, list[str]]:
    """Hugging Face repository (lower case) -> the MOT files that link to it."""
    out: dict[str, list[str]] = {}
    for model in files:
        link = str((read_model(mot, model) or {}).get("huggingface") or "")
        repo = re.sub(r"^(https?://)?huggingface\.co/", "", link.strip()).strip("/").lower()
        if repo.count("/") == 1:
            out.setdefault(repo, []).append(model)
    return out


def covered(mot: str, repos: dict[str, list[str]]) -> dict[str, list[str]]:
    """MOT file -> the catalog entries it speaks for."""
    out: dict[str, list[str]] = {}
    for e in catalog().entries.values():
        if e.mot:
            out.setdefault(e.mot.source.rsplit("/", 1)[1].removesuffix(".yml"), []).append(e.id)
        elif e.hf_repo.lower() in repos:
            print(f"{e.id}: the MOT has {repos[e.hf_repo.lower()]} for {e.hf_repo}; cite it in mot.source",
                  file=sys.stderr)
            out.setdefault(repos[e.hf_repo.lower()][0], []).append(e.id)
    return out


def check_port(mot: str, components: list[ToolComponent], is_open: set[str]) -> int:
    """Evaluate the tool's own test files (Test_Data/*.yml, named for the progress the tool gives each
    class, e.g. ..._C1_77%-C2_100%-C3_100%_...) and stop if a class differs from the name's."""
    out = subprocess.run(["git", "-C", mot, "ls-tree", "--name-only", COMMIT, "Test_Data/"],
                         capture_output=True, text=True, check=True).stdout
    checked = 0
    for path in out.splitlines():
        progress = re.search(r"C1_(\d+)%-C2_(\d+)%-C3_(\d+)%", path)
        if not path.endswith(".yml") or not progress:
            continue
        full = [cls for cls, pct in zip((1, 2, 3), progress.groups()) if pct == "100"]
        got = evaluate(yaml.safe_load(show(mot, path))["release"], components, is_open)["mof_class"]
        if got != (min(full) if full else None):
            sys.exit(f"{path}: the port gives class {got}; the tool's name says otherwise")
        checked += 1
    return checked


def main() -> None:
    mot = sys.argv[1]
    repos = linked_repos(mot, model_files(mot))
    components, is_open = tool_components(mot), open_licences(mot)
    print(f"port agrees with the tool on its {check_port(mot, components, is_open)} test files", file=sys.stderr)
    verdicts, used = [], set()
    for model, entries in sorted(covered(mot, repos).items()):
        release = read_model(mot, model)
        if release is None:
            sys.exit(f"{entries}: the MOT has no models/{model}.yml at {COMMIT[:7]}")
        verdict = evaluate(release, components, is_open)
        used |= set(verdict["components"].values())
        verdicts.append({"model": model, "source": f"{BLOB}/{model}.yml", "catalog": sorted(entries), **verdict})
    print("# The Model Openness Tool's verdicts (github.com/lfai/model_openness_tool, models/*.yml at commit")
    print(f"# {COMMIT[:7]}, 2026-05-11) for every catalog model it has a file for, computed with the tool's own")
    print("# rules by docs/catalog-checks/mot_verdicts.py: each component the file lists with the licence the")
    print("# tool resolves for it (its own, else the release's for its content type, else the release's")
    print("# distribution licence), the class, and the components the next class lacks. `open`: whether the")
    print("# tool counts each licence open. `repos`: every Hugging Face repository a MOT file links to.")
    print(f"# Read {dt.date.today().isoformat()}; test data for catalog/mof.py and the entries' `mot` verdicts.")
    doc = {"commit": COMMIT, "open": {lic: lic in is_open for lic in sorted(used)},
           "repos": repos, "verdicts": verdicts}
    print(yaml.safe_dump(doc, sort_keys=False, width=110, allow_unicode=True), end="")


if __name__ == "__main__":
    main()
