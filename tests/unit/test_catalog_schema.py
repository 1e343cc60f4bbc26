"""The shipped catalog validates, and broken entries fail with the file, entry and problem."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from bakeoff.catalog.load import DATA_DIR, catalog, load_catalog
from bakeoff.catalog.openness import scorecard
from bakeoff.catalog.schema import SOURCED_FACTS, Component, Openness
from bakeoff.errors import CatalogError

# Every model the issue names (families and descendants users look for first).
NAMED = ["llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-2-7b-chat", "elyza-japanese-llama-2-7b",
         "llama-pro-8b", "mistral-7b", "mixtral-8x7b", "biomistral-7b", "openmath-mistral-7b",
         "falcon-7b", "falcon-40b", "falcon-40b-sft-top1-560", "gpt4all-falcon", "olmo-7b", "olmo-2-7b",
         "llama-3.1-8b-instruct", "gemma-2-2b-it", "gemma-3-270m", "qwen2.5-7b-instruct", "phi-3-mini-4k-instruct",
         "phi-4", "smollm2-135m-instruct", "pythia-1.4b", "bloom-560m", "deepseek-v3", "deepseek-r1",
         "tinyllama-1.1b-chat", "granite-3.1-8b-instruct",
         # Open models of 2025 (issue #19): lineage, openness and GGUF availability, each fact sourced.
         "gpt-oss-20b", "gpt-oss-120b", "granite-4.0-micro", "qwen3-8b", "smollm3-3b", "olmo-2-32b",
         "olmo-2-32b-instruct", "olmo-3-7b-instruct", "apertus-8b-instruct", "llama-3.3-70b-instruct",
         "deepseek-r1-distill-llama-70b", "deepseek-v3-base"]


def test_shipped_catalog_is_large_enough_and_names_what_users_look_for() -> None:
    cat = catalog()
    assert len(cat.entries) >= 30
    assert len({e.family for e in cat.entries.values()}) >= 15
    missing = [n for n in NAMED if n not in cat.entries]
    assert not missing, missing


def test_every_fact_has_a_source() -> None:
    """released, params, languages and context each name the URL that states them (or are null:
    unknown); architecture numbers name the config; every open or partial component its evidence."""
    cat = catalog()
    for e in cat.entries.values():
        assert e.sources.card.startswith("https://"), e.id
        assert e.checked.year >= 2026, e.id
        for fact, src in SOURCED_FACTS.items():
            if getattr(e, fact) is not None:
                assert (getattr(e.sources, src) or "").startswith("https://"), (e.id, fact)
        if e.arch.layers:
            assert e.sources.config, e.id
        for b in e.benchmarks:
            assert b.source.startswith("https://"), (e.id, b.name)
        rec, _ = cat.openness(e)
        for name, comp in rec.components():
            assert comp.status in ("closed", "unknown") or comp.evidence, (e.id, name)
            assert comp.license is None or comp.license in cat.licences, (e.id, name)
        if not e.inherits_licence:
            assert e.sources.notes.get("license"), e.id


def test_mof_classes_agree_with_the_model_openness_tool_or_say_why() -> None:
    """The MOT's verdicts (its models/*.yml at a commit) are kept on each entry it evaluates; the
    class computed here must match, or the entry says why it differs."""
    cat = catalog()
    covered = [e for e in cat.entries.values() if e.mot]
    assert len(covered) >= 20
    for e in covered:
        assert "github.com/lfai/model_openness_tool/blob/" in e.mot.source, e.id
        ours = scorecard(cat, e).mof_class
        if e.mot.differs:
            assert ours != e.mot.mof_class, f"{e.id}: says it differs from the MOT but agrees"
        else:
            assert ours == e.mot.mof_class, f"{e.id}: MOT {e.mot.mof_class}, computed {ours}, no reason given"


def test_facts_the_issue_found_wrong_are_fixed() -> None:
    cat = catalog()
    coder = cat.get("qwen2.5-coder-7b-instruct")
    assert coder.released == "2024-09" and "2409.12186" in coder.sources.released
    assert cat.get("falcon-7b").languages == ["en", "fr"] and "languages" in cat.get("falcon-7b").sources.notes
    assert cat.get("deepseek-r1").base == "deepseek-v3-base"
    # Third review (seed 1130): each component carries its own licence, not the release's.
    olmo = cat.families["olmo"].openness
    assert olmo.data_card.license == olmo.datasets.license == "odc-by-1.0"
    assert cat.families["bloom"].openness.data_card.license is None
    assert "350 million" in cat.get("bloom-560m").sources.notes["params"]


def test_components_carry_their_own_licence_not_the_release_fallback() -> None:
    """Fourth review (seed 1132): where the Model Openness Tool lists a component without a licence it
    falls back to the release's; the catalog records the component's own licence, or none."""
    cat = catalog()
    bloom = cat.families["bloom"].openness
    assert bloom.eval_code.license == "mit"
    assert bloom.architecture.license == bloom.training_code.license == bloom.inference_code.license == "bsd-3-clause"
    assert cat.licences["bsd-3-clause"].mof_open
    olmo, pythia = cat.families["olmo"].openness, cat.families["pythia"].openness
    assert olmo.eval_data.license is None and "Paloma" in (olmo.eval_data.note or "")
    assert pythia.data_card.license is None and pythia.datasets.license is None
    granite4 = cat.families["granite-4"].openness
    assert granite4.data_card.status == granite4.tech_report.status == "unknown"
    assert "transformers" in (granite4.architecture.evidence or "")
    gpt_oss = cat.families["gpt-oss"].openness
    assert gpt_oss.eval_results.license == "cc-by-4.0"
    assert "github.com/openai/gpt-oss" in (gpt_oss.inference_code.evidence or "")
    # Check 4 (seed 1133): Mixtral's supporting libraries (Mistral's cookbook) are MIT, not the release's Apache-2.0.
    assert cat.families["mixtral"].openness.libraries.license == "mit"
    # Licences read from the repositories, where notes had said "not verified".
    assert cat.families["tinyllama"].openness.eval_code.license == "apache-2.0"
    assert cat.get("openmath-mistral-7b").openness.model_card.license == "apache-2.0"
    # The class each change leads to, and the entry says why it differs from the MOT.
    for eid, cls in [("olmo-7b", 3), ("pythia-160m", None), ("granite-4.0-micro", None)]:
        assert scorecard(cat, cat.get(eid)).mof_class == cls, eid
        assert cat.get(eid).mot.differs, eid


def test_cards_that_misstate_their_size_say_which_number_we_follow() -> None:
    cat = catalog()
    assert "6.3B billion" in cat.get("bloom-7b1").sources.notes["params"]
    elyza = cat.get("elyza-japanese-llama-2-7b")
    assert elyza.params_b == 6.74 and "6.27B" in elyza.sources.notes["params"]
    assert elyza.sources.params.endswith("config.json")
    assert "contradicts itself" in cat.get("falcon-7b").sources.notes["languages"]


def _broken_copy(tmp_path: Path, edit) -> Path:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    doc = yaml.safe_load((data / "llama.yaml").read_text())
    edit(doc["models"][0])
    (data / "llama.yaml").write_text(yaml.safe_dump(doc))
    return data


@pytest.mark.parametrize("edit, problem", [
    (lambda e: e.pop("sources"), "sources"),
    (lambda e: e["sources"].pop("card"), "sources.card"),
    (lambda e: e.update(license="wtfpl-ish"), "unknown licence 'wtfpl-ish'"),
    (lambda e: e.update(family="nope"), "unknown family 'nope'"),
    (lambda e: e.update(base="ghost", relation="finetune"), "base 'ghost'"),
    (lambda e: e.update(homepage="https://x"), "homepage"),
    (lambda e: e["sources"].update(card="not a url"), "sources.card"),
    (lambda e: e["sources"].pop("released"), "released needs sources.released"),
    (lambda e: e["sources"].pop("languages"), "languages needs sources.languages"),
    (lambda e: e["sources"].pop("params"), "params_b needs sources.params"),
    (lambda e: e["sources"].pop("context"), "context needs sources.context"),
    (lambda e: e.pop("checked"), "checked"),
    (lambda e: e.update(inherits_licence=False), "notes.license"),
    (lambda e: e.update(license=None), "license: null (unknown) needs sources.notes.license"),
    (lambda e: e.update(openness={"model_card": {"status": "open", "license": "wtfpl-ish",
                                                 "evidence": "https://x.org"}}), "openness.model_card.license"),
    (lambda e: e.update(openness={"weights": {"status": "open", "license": "mit",
                                              "evidence": "https://x.org"}}), "the entry's `license`"),
    (lambda e: e.update(openness={**{k: {"status": "closed"} for k in (
        "datasets", "eval_code", "training_code", "checkpoints", "model_card", "data_card",
        "tech_report", "paper")}, "weights": {"status": "open"}}), "evidence URL"),
])
def test_broken_entry_fails_with_a_clear_message(tmp_path: Path, edit, problem: str) -> None:
    with pytest.raises(CatalogError) as exc:
        load_catalog(_broken_copy(tmp_path, edit))
    assert "llama.yaml" in str(exc.value) and "llama-2-7b" in str(exc.value)
    assert problem in str(exc.value)


MOT_UNLICENSED = yaml.safe_load((Path(__file__).parent / "data" / "mot_unlicensed.yaml").read_text())["unlicensed"]
OWN_LICENCE = "own licence"


def _mot_components() -> list[tuple[str, str, Component, str]]:
    """(owner, key, component, MOT file) for each component a Model Openness Tool file speaks for: every
    component of a record that an entry with that MOT verdict uses, and any component whose own note
    names the file ("MOT <name>")."""
    cat = catalog()
    records: dict[str, tuple[Openness, set[str]]] = {}
    for e in cat.entries.values():
        owner = e.id if e.openness is not None else "family:" + e.family
        rec = e.openness if e.openness is not None else cat.families[e.family].openness
        models = records.setdefault(owner, (rec, set()))[1]
        if e.mot:
            models.add(e.mot.source.rsplit("/", 1)[1].removesuffix(".yml"))
    records.update({"family:" + f.id: (f.openness, set()) for f in cat.families.values()
                    if "family:" + f.id not in records})
    found = []
    for owner, (rec, models) in sorted(records.items()):
        for key, comp in rec.components():
            named = {m for m in MOT_UNLICENSED if f"MOT {m}" in (comp.note or "") or f"MOT's {m}" in (comp.note or "")}
            found += [(owner, key, comp, m) for m in sorted(models | named) if key in MOT_UNLICENSED[m]]
    return found


def test_a_licence_the_mot_only_falls_back_to_names_the_components_own_source() -> None:
    """Check 5 (seed 1134): where a MOT file lists a component without a licence, the tool shows the
    release's licence, which says nothing about the component. A catalog licence there must say where
    the component's own licence was read ("own licence: ..."), or be null. Caught: OLMo 2's architecture
    cited 'Apache-2.0 per MOT's OLMo-7B-hf entry', Qwen3's cited the release licence of Qwen3-14B-Base."""
    found = []
    for owner, key, comp, model in _mot_components():
        if comp.status in ("open", "partial") and comp.license and OWN_LICENCE not in (comp.note or ""):
            found.append(f"{owner}: openness.{key} ({comp.license}) rests on MOT {model}, which lists it "
                         f"without a licence; read the component's own licence and say so ('{OWN_LICENCE}: ...')")
    assert not found, "\n".join(found)


def test_check_5_findings_stay_fixed() -> None:
    """Check 5 (seed 1134): the values and citations its five errors corrected."""
    cat = catalog()
    coder = cat.get("qwen2.5-coder-7b-instruct")
    assert coder.languages == ["en"] and "language: en" in coder.sources.notes["languages"]
    for eid in ("mixtral-8x7b", "mixtral-8x7b-instruct"):
        note = cat.get(eid).sources.notes["params"]
        assert "47B" in note and "46,702,792,704" in note, eid
    gemma2 = cat.families["gemma-2"].openness.architecture
    assert gemma2.license == "apache-2.0" and "google-deepmind/gemma" in (gemma2.evidence or "")
    assert "modeling_qwen3.py" in (cat.families["qwen3"].openness.architecture.evidence or "")
    assert "official-1124" in (cat.families["olmo-2"].openness.architecture.note or "")


def test_check_6_remedies_stay() -> None:
    """Check 6 (seed 1135): citations moved to stored sources, and OLMo-core's licence now read."""
    cat = catalog()
    granite = cat.get("granite-3.1-8b-instruct").sources
    assert granite.context.endswith("config.json") and "131072" in granite.notes["context"]
    llama = cat.get("llama-3.1-8b-instruct").sources
    assert "llama-models" in llama.languages and "Thai" in llama.notes["languages"]
    olmo3 = cat.families["olmo-3"].openness
    for c in (olmo3.architecture, olmo3.training_code):
        assert c.license == "apache-2.0" and "OLMo-core" in (c.note or ""), c


# Pages whose stored copies do not show a licence: an arXiv abstract page (its licence is a bare link)
# and the root of a code repository (its licence is a file inside it).
SILENT_EVIDENCE = re.compile(r"^https://(arxiv\.org/(abs|pdf)/|github\.com/[^/]+/[^/]+/?$)")


def openness_records(cat) -> list[tuple[str, Openness]]:
    """Every openness record with its owner: family records, then entries' own."""
    return ([("family:" + f.id, f.openness) for f in cat.families.values()]
            + [(e.id, e.openness) for e in cat.entries.values() if e.openness is not None])


def test_a_licence_on_a_page_that_does_not_show_it_says_where_it_was_read() -> None:
    """Check 7 (seed 1136): BLOOM's paper carried CC-BY-4.0 and Qwen2.5's inference code Apache-2.0
    with nothing saying where those licences were read; the arXiv page and the GitHub repository cited
    state neither (the Qwen repository has no LICENSE at all). A component licensed on such a page
    must say where the licence comes from: its own LICENSE file ("own licence: ...") or a MOT file."""
    cat = catalog()
    records = openness_records(cat)
    found = [f"{owner}: openness.{key} ({c.license}) cites {c.evidence}, which does not show a licence; "
             f"say in the note where the licence was read ('{OWN_LICENCE}: ...' or the MOT file)"
             for owner, rec in records for key, c in rec.components()
             if c.status in ("open", "partial") and c.license and SILENT_EVIDENCE.match(c.evidence or "")
             and not any(mark in (c.note or "") for mark in (OWN_LICENCE, "LICENSE", "MOT"))]
    assert not found, "\n".join(found)


def test_check_7_findings_stay_fixed() -> None:
    """Check 7 (seed 1136): the values its errors corrected, and the citations moved to makers' pages."""
    cat = catalog()
    falcon = cat.families["falcon"].openness
    assert falcon.tech_report.license == falcon.eval_results.license == "arxiv-nonexclusive"
    assert "Falcon-180B" in (falcon.tech_report.note or "")
    assert "MOT BLOOM" in (cat.families["bloom"].openness.paper.note or "")
    assert "no LICENSE" in (cat.families["qwen2.5"].openness.inference_code.note or "")
    datasets = cat.families["olmo-3"].openness.datasets
    assert datasets.license == "odc-by-1.0" and "dolma3_mix" in (datasets.evidence or "")
    assert cat.families["gemma-2"].openness.inference_code.license == "apache-2.0"
    assert "llama-models" in cat.get("llama-3.1-70b-instruct").sources.languages
    assert "llama4/MODEL_CARD" in cat.get("llama-4-scout-17b-16e-instruct").sources.config
    for eid in ("qwen3-8b", "qwen2.5-0.5b-instruct"):
        assert "QwenLM" in cat.get(eid).sources.released, eid


# What an attention label claims beyond the head counts, and the words that show a note read it.
ATTENTION_CLAIMS = {"sliding": ("sliding",), "alternat": ("alternat", "every other")}


def test_an_architecture_read_on_a_prose_page_shows_every_number_and_pattern_in_its_note() -> None:
    """Check 8 (seed 1137): gpt-oss's attention was labelled 'alternating full and sliding-window
    layers', but the NVIDIA page cited for its config says only 'sliding window attention'. A config
    read anywhere but a config.json must quote, in its note, each number and attention pattern it gives."""
    found = []
    for e in catalog().entries.values():
        if not e.sources.config or e.sources.config.endswith("config.json"):
            continue
        note = e.sources.notes.get("config", "")
        plain = re.sub(r"(?<=\d),(?=\d{3})", "", note).lower()
        numbers = {k: v for k, v in e.arch.model_dump(exclude_none=True).items() if isinstance(v, int)}
        found += [f"{e.id}: arch.{k} = {v} is not in sources.notes.config" for k, v in numbers.items()
                  if not re.search(rf"(?<!\d){v}(?!\d)", plain)]
        found += [f"{e.id}: arch.attention says '{claim}…' but sources.notes.config does not say where"
                  for claim, words in ATTENTION_CLAIMS.items()
                  if claim in (e.arch.attention or "").lower() and not any(w in plain for w in words)]
    assert not found, "\n".join(found)


def test_check_8_findings_stay_fixed() -> None:
    """Check 8 (seed 1137): the values and citations its errors corrected."""
    cat = catalog()
    for eid in ("deepseek-r1", "deepseek-r1-distill-qwen-7b"):
        entry = cat.get(eid)
        assert entry.languages == ["en", "zh"] and entry.sources.languages.endswith("DeepSeek_R1.pdf"), eid
        assert "optimized for Chinese and English" in entry.sources.notes["languages"], eid
    bio = cat.get("biomistral-7b").openness
    for c in (bio.eval_code, bio.training_code, bio.preprocessing_code):
        assert c.status == "open" and c.license is None and "BioMistral/BioMistral" in (c.evidence or ""), c
    qwen3 = cat.families["qwen3"].openness.eval_results
    assert qwen3.license == "arxiv-nonexclusive" and "2505.09388" in (qwen3.evidence or "")
    assert "allenai.org/blog" in cat.get("olmo-2-32b-instruct").sources.released


# Components that are code: a repository's LICENSE file is their own licence.
CODE_COMPONENTS = ("architecture", "inference_code", "training_code", "eval_code", "preprocessing_code",
                   "libraries")
UNREAD_LICENCE = re.compile(r"licen[cs]e not (checked|verified)", re.I)


def test_code_on_github_without_a_licence_says_its_licence_was_looked_for() -> None:
    """Check 9 (seed 1138): SmolLM2's training code was left without a licence, 'licence not checked
    against a stored source', though huggingface/smollm carries an Apache-2.0 LICENSE. Code published on
    GitHub has its licence one file away: a code component there with no licence must say it looked
    (no LICENSE, or no readable copy), never that it did not."""
    cat = catalog()
    records = openness_records(cat)
    found = [f"{owner}: openness.{key} at {c.evidence}: read the repository's LICENSE instead of "
             f"'{UNREAD_LICENCE.search(c.note or '').group(0)}'"
             for owner, rec in records for key, c in rec.components()
             if key in CODE_COMPONENTS and c.status in ("open", "partial") and c.license is None
             and (c.evidence or "").startswith("https://github.com/") and UNREAD_LICENCE.search(c.note or "")]
    assert not found, "\n".join(found)


def test_check_9_findings_stay_fixed() -> None:
    """Check 9 (seed 1138): the licences its error and sweep read in the repositories' LICENSE files."""
    cat = catalog()
    fam = cat.families
    assert fam["smollm2"].openness.training_code.license == fam["smollm2"].openness.eval_code.license == "apache-2.0"
    assert fam["smollm3"].openness.training_code.license == "apache-2.0"
    assert fam["llama-2"].openness.training_code.license == "mit"
    assert fam["mistral"].openness.training_code.license == "apache-2.0"
    assert "-v0.2 file does not list them" in (fam["mistral"].openness.eval_results.note or "")
    for eid in ("llama-3.1-8b-instruct", "llama-3.1-70b-instruct"):
        assert cat.get(eid).sources.config.endswith("llama3_1/api/sku_list.py"), eid


SIZE_QUOTE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|M)\b|(\d+(?:\.\d+)?)\s+(billion|million)\b")


def test_a_size_quoted_in_the_params_note_is_the_size_stored() -> None:
    """Check 10 (seed 1139): Llama 3.2 1B stored 1.24B while its note quoted the card's '1B (1.23B)'. When a
    params note quotes sizes, the stored size must be one of them, or the note must say which one we follow."""
    found = []
    for e in catalog().entries.values():
        note = e.sources.notes.get("params", "")
        sizes = [float(m[0] or m[2]) / (1000 if (m[1] or m[3]).startswith(("M", "m")) else 1)
                 for m in SIZE_QUOTE.findall(note)]
        if sizes and e.params_b is not None and not any(abs(s - e.params_b) < 1e-9 for s in sizes) \
                and "we follow" not in note and "we store" not in note.lower():
            found.append(f"{e.id}: params_b {e.params_b} is not among the sizes its note quotes {sizes}")
    assert not found, "\n".join(found)


def test_check_10_findings_stay_fixed() -> None:
    """Check 10 (seed 1139): the values and citations its errors corrected."""
    cat = catalog()
    assert cat.get("llama-3.2-1b-instruct").params_b == 1.23
    v02 = cat.get("mistral-7b-instruct-v0.2")
    assert v02.released is None and v02.sources.released is None
    assert "la-plateforme" in v02.sources.notes["released"]
    assert "gemma3" in cat.get("gemma-3-1b-it").sources.languages
    assert "third party" in cat.get("gemma-3-1b-it").sources.notes["languages"]
    assert "MODEL_CARD.md" in cat.get("llama-4-scout-17b-16e-instruct").sources.notes["license"]
