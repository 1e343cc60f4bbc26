"""The `bakeoff` command. Commands load lazily, the way plugins do: `bakeoff --help` lists them from
the table below without importing any, and `bakeoff ask ...` imports the ask module alone, so the
commands a user types first answer at once (modules import heavy libraries inside their commands)."""

from __future__ import annotations

import importlib
import sys

import click

from .. import notices
from ..errors import BakeoffError
from .errors import report

# name -> ("module:attribute" under bakeoff.cli, the start of its help as `bakeoff --help` shows it;
# tests/unit/test_cli_startup.py checks both against the commands themselves, so they cannot drift).
COMMANDS: dict[str, tuple[str, str]] = {
    "arena": ("arena:arena_group",
        "Blind pairwise battles (vote in the web UI: `bakeoff serve`, then open /#arena)."),
    "ask": ("ask:ask_cmd",
        "Ask MODEL one question and stream the answer."),
    "bench": ("bench:bench_cmd",
        "Score models on standard benchmarks (TASKS: comma-separated, e.g. hellaswag,piqa,arc_easy)."),
    "catalog": ("catalog:catalog_cmd",
        "Open models: licences, openness, lineage, tasks and fit to this machine (offline, sourced)."),
    "chat": ("ask:chat_cmd",
        "Multi-turn chat in the terminal."),
    "diff": ("runs:diff_cmd",
        "Compare A with B case by case: wins, losses, ties, an exact McNemar test on pass/fail and a"),
    "endpoints": ("endpoints:endpoints_group",
        "Remote OpenAI-compatible endpoints (vLLM, SGLang, llama-server, Ollama, Ray Serve, ...)."),
    "folders": ("folders:folders_cmd",
        "Folders searched for GGUF files (besides BAKEOFF_MODEL_DIRS and other tools' stores)."),
    "logs": ("logs:logs_cmd",
        "Show recent ask/chat exchanges with model hash, parameters, tokens and timings."),
    "merge": ("tune:merge_cmd",
        "Fold a tuned model's adapter (BASE+NAME) into its base weights: a standalone GGUF registered as"),
    "models": ("models:models_cmd",
        "List the models you can use: packaged, your GGUF files, the ones Ollama, LM Studio, GPT4All,"),
    "pull": ("pull:pull_cmd",
        "Download a GGUF from the Hugging Face Hub (resumes, verifies SHA-256)."),
    "quantize": ("quants:quantize_cmd",
        "Make quantized copies of MODEL (a GGUF path or model name) with llama.cpp's quantizer."),
    "quants": ("quants:quants_cmd",
        "Compare quantizations of MODEL (the reference) and recommend the smallest one that is not"),
    "recommend": ("recommend:recommend_cmd",
        "Models worth trying for a task: expected quality (sourced leaderboard scores) against expected"),
    "report": ("runs:report_cmd",
        "Re-render the leaderboard and the HTML/JSON/CSV report of RUN (an id, or latest)."),
    "run": ("run:run_cmd",
        "Run models on a suite (default: the starter suite on the packaged models) and compare them."),
    "runs": ("runs:runs_cmd",
        "List past bakeoff runs, newest first."),
    "search": ("search:search_cmd",
        "Search the Hugging Face Hub for GGUF models: each repo's quantizations with sizes and whether"),
    "serve": ("serve:serve_cmd",
        "Serve models behind an OpenAI-compatible API (http://HOST:PORT/v1)."),
    "show": ("models:show_cmd",
        "Show a model's metadata, chat template and whether it fits in this machine's memory."),
    "tune": ("tune:tune_cmd",
        "Fine-tune a LoRA adapter for BASE on your data, on this CPU; the same command resumes."),
}


def load_command(target: str) -> click.Command:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(f"bakeoff.cli.{module}"), attr)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load_command(COMMANDS[cmd_name][0]), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing from the table's summaries (click shortens them as it would the real help)."""
        listed = {name: click.Command(name, help=summary) for name, (_, summary) in COMMANDS.items()}
        click.Group(commands={**listed, **self.commands}).format_commands(ctx, formatter)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="bakeoff")
def cli() -> None:
    """Bakeoff: choose and use open-weights LLMs, offline, on your own cases and hardware."""
    notices.to_lines(lambda line: click.echo(line, err=True))   # `serve` logs them instead


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="bakeoff", standalone_mode=False)
    except click.exceptions.Abort:
        print("interrupted", file=sys.stderr)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BakeoffError as exc:
        return report(exc)
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback
        return report(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
