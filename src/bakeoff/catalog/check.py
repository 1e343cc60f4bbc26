"""`bakeoff catalog check`: how long ago each entry was checked, and whether its sources still answer.

Source URLs are verified with one HEAD request each (GET for the first byte when a server refuses
HEAD), in parallel, only when the network is there; nothing here runs at import or load time.
"""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..freshness import age_days, is_stale
from .load import Catalog

USER_AGENT = "bakeoff-catalog-check (+https://github.com/)"


@dataclass
class EntryAge:
    id: str
    checked: dt.date
    age_days: int
    stale: bool


def entries_by_age(cat: Catalog, today: dt.date | None = None) -> list[EntryAge]:
    """Every entry with the date its facts were checked, oldest first."""
    rows = [EntryAge(e.id, e.checked, age_days(e.checked, today), is_stale(e.checked, today))
            for e in cat.entries.values()]
    return sorted(rows, key=lambda r: (r.checked, r.id))


HUB = "https://huggingface.co"


def cited_urls(cat: Catalog, hub: str = HUB) -> dict[str, list[str]]:
    """Each source URL the catalog cites, with what cites it (entry ids, family ids, licences),
    plus each entry's Hugging Face repository and GGUF repositories (their existence is a fact)."""
    urls: dict[str, list[str]] = {}

    def add(url: str | None, who: str) -> None:
        if url and who not in urls.setdefault(url, []):
            urls[url].append(who)

    for lic in cat.licences.values():
        add(lic.source, f"licence {lic.id}")
    for fam in cat.families.values():
        add(fam.source, f"family {fam.id}")
        for _, comp in fam.openness.components():
            add(comp.evidence, f"family {fam.id}")
    for e in cat.entries.values():
        for url in e.sources.urls().values():
            add(url, e.id)
        for _, comp in (e.openness.components() if e.openness else ()):
            add(comp.evidence, e.id)
        for b in e.benchmarks:
            add(b.source, e.id)
        if e.mot:
            add(e.mot.source, e.id)
        for repo in (e.hf_repo, *e.gguf_repos):
            add(f"{hub.rstrip('/')}/{repo}", e.id)
    return urls


@dataclass
class UrlCheck:
    url: str
    ok: bool
    status: int | None = None
    error: str | None = None
    cited_by: list[str] = field(default_factory=list)


def _request(url: str, method: str, timeout: float) -> int:
    req = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
    if method == "GET":
        req.add_header("Range", "bytes=0-0")
    with urllib.request.urlopen(req, timeout=timeout) as resp:   # follows redirects
        return int(resp.status)


def check_url(url: str, timeout: float = 10.0) -> UrlCheck:
    """HEAD the URL; a 405/403/501 answer to HEAD is retried as a one-byte GET."""
    for method in ("HEAD", "GET"):
        try:
            status = _request(url, method, timeout)
            return UrlCheck(url, 200 <= status < 400, status)
        except urllib.error.HTTPError as exc:
            if method == "HEAD" and exc.code in (403, 405, 501):
                continue
            return UrlCheck(url, False, exc.code, exc.reason if isinstance(exc.reason, str) else None)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return UrlCheck(url, False, None, str(reason))
    return UrlCheck(url, False, None, "no answer")


def check_urls(urls: dict[str, list[str]], timeout: float = 10.0, workers: int = 8) -> list[UrlCheck]:
    """Check every URL (in parallel); dead ones first, then by URL."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda u: check_url(u, timeout), urls))
    for r in results:
        r.cited_by = urls[r.url]
    return sorted(results, key=lambda r: (r.ok, r.url))


def online(probe: str, timeout: float = 5.0) -> bool:
    """Whether `probe` answers at all (any HTTP status counts; no connection does not)."""
    r = check_url(probe, timeout)
    return r.status is not None
