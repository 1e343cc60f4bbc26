"""Folders the user adds (`BAKEOFF_MODEL_DIRS`, or `bakeoff folders add PATH`, kept in
BAKEOFF_HOME/folders.txt): every GGUF under them, named by its file name without `.gguf`
(also `folder:RELATIVE/PATH`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ...settings import Settings
from ..ref import ModelRef
from . import Scan, found, read_small, stem


def folders_file(settings: Settings) -> Path:
    return settings.home / "folders.txt"


def saved_folders(settings: Settings) -> list[Path]:
    text = read_small(folders_file(settings)) or ""
    return [Path(line.strip()).expanduser() for line in text.splitlines() if line.strip()]


class FolderSource:
    name = "folder"
    title = "your folders"

    def roots(self, settings: Settings) -> list[Path]:
        return [*settings.model_dirs, *saved_folders(settings)]

    def scan(self, root: Path, scan: Scan) -> Iterator[ModelRef]:
        for path in scan.walk_gguf(root):
            rel = path.relative_to(root).as_posix()
            yield found(self.name, stem(path.name), path, root, [f"{self.name}:{stem(rel)}"])


SOURCE = FolderSource()
