"""`bakeoff pull`."""

from __future__ import annotations

import click

from ..catalog.queries import repo_estimates
from ..estimates import human_bytes
from ..models.pull import pull
from .common import console, print_json


@click.command("pull")
@click.argument("spec", metavar="HF_REPO[:FILE]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def pull_cmd(spec: str, as_json: bool) -> None:
    """Download a GGUF from the Hugging Face Hub (resumes, verifies SHA-256).

    Without :FILE, picks the quantization recommended for this machine.
    """
    out = pull(spec, known=repo_estimates)
    if as_json:
        print_json(out)
        return
    check = "SHA-256 verified" if out["verified"] else "no SHA-256 published; GGUF header checked"
    console.print(f"pulled {out['repo']}:{out['file']} ({out['quantization']}, {human_bytes(out['size'])}; "
                  f"{out['reason']}; {check})\n-> {out['path']}\nuse it as: {out['name']}", markup=False)


def register(cli: click.Group) -> None:
    cli.add_command(pull_cmd)
