"""GPT4All's models folder: the `modelPath` in GPT4All's settings (`~/.config/nomic.ai/GPT4All.ini`),
else its default data folder (`$XDG_DATA_HOME/nomic.ai/GPT4All`, `~/Library/Application
Support/nomic.ai/GPT4All` on macOS, `%LOCALAPPDATA%\\nomic.ai\\GPT4All` on Windows).

Layout: flat `FILE.gguf`; downloads in progress are named `incomplete-FILE.gguf` and skipped.
Listed as `gpt4all:FILE`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

from ...settings import Settings
from ..ref import ModelRef
from . import Scan, env_dir, found, read_small, stem, xdg_dir


class GPT4AllSource:
    name = "gpt4all"
    title = "GPT4All"

    def roots(self, settings: Settings) -> list[Path]:
        home = settings.user_home
        ini = read_small(xdg_dir(settings, "XDG_CONFIG_HOME", ".config") / "nomic.ai" / "GPT4All.ini") or ""
        m = re.search(r"(?m)^modelPath=(.+)$", ini)
        roots = [Path(m.group(1).strip()).expanduser()] if m else []
        if sys.platform == "darwin":
            roots.append(home / "Library" / "Application Support" / "nomic.ai" / "GPT4All")
        elif sys.platform == "win32":
            roots.append((env_dir("LOCALAPPDATA") or home / "AppData" / "Local") / "nomic.ai" / "GPT4All")
        else:
            roots.append(xdg_dir(settings, "XDG_DATA_HOME", ".local/share") / "nomic.ai" / "GPT4All")
        return roots

    def scan(self, root: Path, scan: Scan) -> Iterator[ModelRef]:
        for path in scan.walk_gguf(root, max_depth=0):
            name = f"{self.name}:{path.name}"
            yield found(self.name, name, path, root, [stem(name)])


SOURCE = GPT4AllSource()
