"""`bakeoff models` matches the embedded GGUF files to catalog entries (licence and openness)."""

from __future__ import annotations

from bakeoff.catalog.load import catalog
from bakeoff.catalog.match import match_metadata
from cli_run import run, run_json


def test_match_prefers_repo_then_name_then_basename_then_base_model() -> None:
    cat = catalog()
    m = match_metadata(cat, {"general.source.huggingface.repository": "TheBloke/Llama-2-7B-Chat-GGUF"})
    assert (m.entry.id, m.how) == ("llama-2-7b-chat", "repo")
    m = match_metadata(cat, {"general.name": "Mixtral 8x7B Instruct v0.1"})
    assert (m.entry.id, m.how) == ("mixtral-8x7b-instruct", "name")
    m = match_metadata(cat, {"general.basename": "Llama-2", "general.size_label": "13B",
                             "general.finetune": "chat"})
    assert (m.entry.id, m.how) == ("llama-2-13b-chat", "basename+size")
    m = match_metadata(cat, {"general.name": "my-medical-tune", "general.base_model.count": 1,
                             "general.base_model.0.repo_url": "https://huggingface.co/mistralai/Mistral-7B-v0.1"})
    assert (m.entry.id, m.how, m.descendant) == ("mistral-7b", "base model", True)
    assert match_metadata(cat, {"general.name": "something else"}) is None


def test_models_shows_licence_and_openness_of_local_files(capsys) -> None:
    rows = run_json(capsys, "models")
    smol = next(r for r in rows if "smollm2-135m" in r["aliases"])
    assert smol["catalog_id"] == "smollm2-135m-instruct" and smol["license"] == "apache-2.0"
    # 5/5 open components, but no MOF class: the catalog records no licence for SmolLM2's paper
    # and data card, and the framework counts an unlicensed component as not open.
    assert smol["openness"] == "5/5, MOF none"
    gemma = next(r for r in rows if "gemma3-270m" in r["aliases"])
    assert gemma["catalog_id"] == "gemma-3-270m" and gemma["openness"] == "1/5, MOF none"
    code, out, _ = run(capsys, "models")
    assert code == 0 and "5/5," in out
