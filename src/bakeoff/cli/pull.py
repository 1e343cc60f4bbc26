"""`bakeoff pull`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..catalog.queries import repo_estimates
from ..estimates import human_bytes
from ..models.pull import pull
from .common import console, print_json

if TYPE_CHECKING:
    from ..models.quant_evidence import QuantEvidence


@click.command("pull")
@click.argument("spec", metavar="HF_REPO[:FILE|:QUANT] | N[:QUANT]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def pull_cmd(spec: str, as_json: bool) -> None:
    """Download a GGUF from the Hugging Face Hub (resumes, verifies SHA-256).

    Without :FILE or :QUANT, picks the smallest quantization that a `bakeoff quants` sweep of this
    model here found not significantly worse, else the one recommended for this machine; a split
    file's shards all come down. N is a result number of the last `bakeoff search`.
    """
    out = pull(spec, known=repo_estimates, quants=measured_quants)
    if as_json:
        print_json(out)
        return
    check = "SHA-256 verified" if out["verified"] else "no SHA-256 published; GGUF header checked"
    shards = f" + {len(out['files']) - 1} more shards" if len(out["files"]) > 1 else ""
    console.print(f"pulled {out['repo']}:{out['file']}{shards} ({out['quantization']}, {human_bytes(out['size'])}; "
                  f"{check})\nwhy this file: {out['reason']}\n-> {out['path']}\nuse it as: {out['name']}",
                  markup=False, soft_wrap=True)


def measured_quants(repo: str) -> QuantEvidence | None:
    """The store's latest `bakeoff quants` sweep of the model in `repo`, or None."""
    from ..catalog.evidence import repo_quants
    from ..catalog.load import catalog
    from ..store.db import connect

    db = connect()
    try:
        return repo_quants(catalog(), db, repo)
    finally:
        db.close()
