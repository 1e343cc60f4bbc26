"""A fact cited to someone other than its maker says so: news sites, wikis, API directories, model
indexes and users' re-uploads may carry a maker's fact, but the reader must be told the page is not
the maker's own (the note for that fact says "third party")."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from bakeoff.catalog.load import catalog
from bakeoff.catalog.schema import Entry

# Sites a maker publishes on itself, beyond its Hugging Face / GitHub organisations (keyed by the
# Hugging Face organisation of the entry's repository, lower case).
MAKER_SITES: dict[str, set[str]] = {
    "meta-llama": {"ai.meta.com", "llama.com", "www.llama.com"},
    "google": {"ai.google.dev", "blog.google", "deepmind.google", "developers.googleblog.com"},
    "mistralai": {"mistral.ai", "docs.mistral.ai"},
    "openai": {"openai.com", "cdn.openai.com"},
    "ibm-granite": {"www.ibm.com", "ibm.com"},
    "allenai": {"allenai.org", "docs.allenai.org"},
    "qwen": {"qwenlm.github.io", "qwen.ai"},
    "swiss-ai": {"swiss-ai.org", "www.swiss-ai.org"},
    "microsoft": {"azure.microsoft.com", "techcommunity.microsoft.com"},
}
# GitHub organisations of makers whose GitHub name differs from their Hugging Face one.
MAKER_GITHUB: dict[str, set[str]] = {
    "huggingfacetb": {"huggingface"}, "qwen": {"qwenlm"}, "eleutherai": {"eleutherai"},
    "ibm-granite": {"ibm-granite", "ibm"}, "deepseek-ai": {"deepseek-ai"}, "tencentarc": {"tencentarc"},
    "bigscience": {"bigscience-workshop"}, "swiss-ai": {"swiss-ai"},
}
# Papers and technical reports are the makers' own publications wherever they are hosted.
PAPER_HOSTS = {"arxiv.org", "www.arxiv.org"}
GIT_HOSTS = {"github.com", "raw.githubusercontent.com"}


def maker_orgs(entry: Entry) -> set[str]:
    """The Hugging Face organisations of the entry and of its ancestors (a fact about a base model read
    on the base's own card is first party)."""
    cat = catalog()
    repos = [e.hf_repo for e in [entry, *cat.ancestors(entry)] if e.hf_repo]
    return {r.split("/")[0].lower() for r in repos}


def first_party(url: str, orgs: set[str]) -> bool:
    parsed = urlparse(url)
    host, owner = parsed.netloc.lower(), (parsed.path.strip("/").split("/") or [""])[0].lower()
    if host in PAPER_HOSTS:
        return True
    if host == "huggingface.co":
        parts = parsed.path.strip("/").lower().split("/")
        if owner in ("datasets", "collections") and len(parts) > 1:
            owner = parts[1]
        return owner in orgs
    if host in GIT_HOSTS:
        return owner in orgs or any(owner in MAKER_GITHUB.get(o, set()) for o in orgs)
    return any(host in MAKER_SITES.get(o, set()) for o in orgs)


def unlabelled_third_party() -> list[tuple[str, str, str]]:
    found = []
    for e in catalog().entries.values():
        orgs = maker_orgs(e)
        for fact, url in e.sources.urls().items():
            if fact == "card" or first_party(url, orgs):
                continue
            if "third party" not in e.sources.notes.get(fact, "").lower():
                found.append((e.id, fact, url))
    return found


def test_every_third_party_source_is_labelled_in_the_facts_note() -> None:
    found = unlabelled_third_party()
    assert not found, "\n".join(f"{i}: sources.{f} {u} is not the maker's; say 'third party' in notes.{f}"
                                for i, f, u in found)


@pytest.mark.parametrize("url, first", [
    ("https://huggingface.co/meta-llama/Llama-2-7b-hf", True),
    ("https://arxiv.org/abs/2307.09288", True),
    ("https://github.com/meta-llama/llama-models/blob/main/models/llama3_2/MODEL_CARD.md", True),
    ("https://ai.meta.com/blog/meta-llama-3-1/", True),
    ("https://huggingface.co/TheBloke/Llama-2-7B-GGUF", False),
    ("https://openrouter.ai/meta-llama/llama-3.3-70b-instruct", False),
    ("https://wikimili.com/en/Llama_(language_model)", False),
    ("https://github.com/someone/llama-fork", False),
])
def test_first_party_means_the_makers_own_pages(url: str, first: bool) -> None:
    assert first_party(url, {"meta-llama"}) is first


# Where an openness component lives: code and model hosts, paper hosts, and the makers' own sites.
COMPONENT_HOSTS = {"github.com", "huggingface.co", "hf.co"} | PAPER_HOSTS
MAKER_SITE_HOSTS = set().union(*MAKER_SITES.values()) | {"pile.eleuther.ai"}


def unlabelled_third_party_evidence() -> list[tuple[str, str, str]]:
    cat = catalog()
    records = [(e.id, e.openness) for e in cat.entries.values() if e.openness is not None]
    records += [("family:" + f.id, f.openness) for f in cat.families.values()]
    found = []
    for owner, openness in records:
        for key, comp in openness.components():
            host = urlparse(comp.evidence or "").netloc.lower()
            labelled = "third party" in (comp.note or "").lower()
            if host and host not in COMPONENT_HOSTS | MAKER_SITE_HOSTS and not labelled:
                found.append((owner, key, comp.evidence))
    return found


def test_component_evidence_is_the_component_or_labelled_third_party() -> None:
    """Check 4 (seed 1133): Llama 4's weights cited a wiki page about them, unlabelled."""
    found = unlabelled_third_party_evidence()
    assert not found, "\n".join(f"{o}: openness.{k} evidence {u} is neither where the component lives nor the "
                                f"maker's site; cite the maker's page or say 'third party' in the note"
                                for o, k, u in found)


def third_party_site_names() -> set[str]:
    """The names (second-level labels) of the non-maker sites the catalog cites anywhere."""
    cat = catalog()
    names = set()
    for e in cat.entries.values():
        orgs = maker_orgs(e)
        for fact, url in e.sources.urls().items():
            host = urlparse(url).netloc.lower()
            if fact != "card" and not first_party(url, orgs) and host.count(".") >= 1:
                names.add(host.split(".")[-2])
    return names - {"github", "githubusercontent", "huggingface", "arxiv", "google", "co"}


def test_a_licence_read_on_a_third_party_site_says_so() -> None:
    """Check 10 (seed 1139): Llama 4 Scout's licence note, the licence's only source, rested on
    "royfactory's reading of the licence", a third-party blog, without saying so, while Meta's card
    and LICENSE are stored. A licence note that names a site the catalog knows as a third party must
    say "third party" (or cite the maker's page instead)."""
    names = third_party_site_names()
    found = [f"{e.id}: notes.license names {sorted(hits)} without saying 'third party'"
             for e in catalog().entries.values()
             for note in [e.sources.notes.get("license", "").lower()]
             for hits in [{n for n in names if n in note}]
             if hits and "third party" not in note.replace("third-party", "third party")]
    assert not found, "\n".join(found)
