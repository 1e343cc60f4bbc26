"""Models found in place in other tools' stores, each layout built for real in a temp home."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import stores
from bakeoff.errors import AmbiguousModelError, ModelFileError
from bakeoff.models.registry import Registry
from bakeoff.models.sources import check_present
from bakeoff.settings import reset_settings
from cli_run import run, run_json
from tinygguf import write_minimal


@pytest.fixture
def home() -> Path:
    return Path(os.environ["BAKEOFF_USER_HOME"])


@pytest.fixture
def gguf(tmp_path: Path):
    """Bytes of a distinct tiny GGUF per (name, width)."""
    def make(name: str = "tiny", width: int = 32, **meta: str) -> bytes:
        return write_minimal(tmp_path / f"{name}-{width}.gguf", name, width, **meta).read_bytes()
    return make


def by_name(refs):
    return {r.name: r for r in refs}


def test_each_store_is_listed_in_place_with_its_own_names(home, gguf):
    blob = stores.ollama(home, "llama3.2", "1b", gguf("a"))
    snap = stores.hf_cache(home, "bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf", gguf("b"))
    lms = stores.lmstudio(home, "lmstudio-community/Tiny-GGUF", "Tiny-Q8_0.gguf", gguf("c"))
    old = stores.lmstudio(home, "TheBloke/Old-GGUF", "old.Q4_0.gguf", gguf("d"), legacy=True)
    g4a = stores.gpt4all(home, "Meta-Tiny.Q4_0.gguf", gguf("e"))
    lcp = stores.llamacpp(home, "ggml-org/Tiny-GGUF", "tiny-q8_0.gguf", "Q8_0", gguf("f"))
    refs = by_name(Registry().list())
    expected = {"ollama:llama3.2:1b": ("ollama", blob, None),
                "hf:bartowski/Tiny-GGUF:Tiny-Q4_K_M.gguf": ("hf", snap, "bartowski/Tiny-GGUF"),
                "lmstudio:lmstudio-community/Tiny-GGUF:Tiny-Q8_0.gguf":
                    ("lmstudio", lms, "lmstudio-community/Tiny-GGUF"),
                "lmstudio:TheBloke/Old-GGUF:old.Q4_0.gguf": ("lmstudio", old, "TheBloke/Old-GGUF"),
                "gpt4all:Meta-Tiny.Q4_0.gguf": ("gpt4all", g4a, None),
                "llamacpp:ggml-org/Tiny-GGUF:tiny-q8_0.gguf": ("llamacpp", lcp, "ggml-org/Tiny-GGUF")}
    for name, (source, path, repo) in expected.items():
        assert name in refs, sorted(refs)
        ref = refs[name]
        assert (ref.source, ref.path, ref.origin.repo) == (source, str(path), repo)
    # In place: nothing was copied into BAKEOFF_HOME.
    assert not list((Path(os.environ["BAKEOFF_HOME"]) / "models").glob("**/*.gguf"))


def test_ollama_names_template_and_parameters(home, gguf):
    stores.ollama(home, "qwen2.5", "latest", gguf("a"), template="{{ .Prompt }}",
                  params={"temperature": 0.2, "stop": ["<|im_end|>"]}, system="Be brief.")
    stores.ollama(home, "tinyllama", "q4", gguf("b"), namespace="someone")
    stores.ollama(home, "Tiny-GGUF", "Q4_K_M", gguf("c"), host="hf.co", namespace="bartowski")
    refs = by_name(Registry().list())
    qwen = refs["ollama:qwen2.5:latest"]
    assert "ollama:qwen2.5" in qwen.aliases
    assert qwen.origin.template == "{{ .Prompt }}" and qwen.origin.system == "Be brief."
    assert qwen.origin.params == {"temperature": 0.2, "stop": ["<|im_end|>"]}
    assert qwen.origin.sha256 == Path(qwen.path).name.removeprefix("sha256-")
    assert "ollama:someone/tinyllama:q4" in refs
    assert refs["ollama:hf.co/bartowski/Tiny-GGUF:Q4_K_M"].origin.repo == "bartowski/Tiny-GGUF"
    # Ollama's own short spellings work without the prefix when only one model has them.
    assert Registry().resolve("qwen2.5").name == "ollama:qwen2.5:latest"
    assert Registry().resolve("someone/tinyllama:q4").name == "ollama:someone/tinyllama:q4"


def test_ollama_models_dir_from_the_environment(tmp_path, monkeypatch, gguf):
    stores.ollama(tmp_path / "elsewhere", "phi3", "mini", gguf())
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "elsewhere" / ".ollama" / "models"))
    assert "ollama:phi3:mini" in by_name(Registry().list())


def test_the_same_file_in_several_stores_is_listed_once_with_all_its_names(home, gguf, bakeoff_home):
    data = gguf("same")
    stores.hf_cache(home, "owner/Same-GGUF", "same-Q4_0.gguf", data)
    stores.lmstudio(home, "owner/Same-GGUF", "same-Q4_0.gguf", data)
    stores.ollama(home, "same", "q4", data)
    stores.gpt4all(home, "different.gguf", gguf("other"))
    refs = [r for r in Registry().list() if r.source not in ("packaged",)]
    same = [r for r in refs if "same" in r.name]
    assert len(same) == 1
    ref = same[0]
    assert ref.name == "hf:owner/Same-GGUF:same-Q4_0.gguf"
    assert {"lmstudio:owner/Same-GGUF:same-Q4_0.gguf", "ollama:same:q4"} <= set(ref.aliases)
    assert ref.sources == ["hf", "lmstudio", "ollama"]
    # Each name still opens its own copy.
    copy = Registry().resolve("lmstudio:owner/Same-GGUF:same-Q4_0.gguf")
    assert copy.source == "lmstudio" and "/.lmstudio/" in copy.path
    # The LM Studio file had no digest in its name: it was hashed once and cached.
    assert (bakeoff_home / "cache" / "sha256.json").exists()


def test_files_of_different_sizes_are_never_hashed(home, gguf, bakeoff_home):
    stores.lmstudio(home, "a/A-GGUF", "a.gguf", gguf("a", width=32))
    stores.gpt4all(home, "b.gguf", gguf("b", width=64))
    assert len(Registry().list()) >= 2
    assert not (bakeoff_home / "cache" / "sha256.json").exists()


def test_broken_links_non_gguf_blobs_and_partial_downloads(home, gguf, capsys):
    stores.hf_cache(home, "owner/Broken-GGUF", "gone.gguf", None)
    stores.ollama(home, "notgguf", "latest", b"PK\x03\x04 this is a zip, not a model" * 10)
    half = gguf("half")
    stores.ollama(home, "half", "latest", half[: len(half) - 40])
    stores.gpt4all(home, "incomplete-Downloading.gguf", half[:100])
    bad = home / ".ollama" / "models" / "manifests" / "registry.ollama.ai" / "library" / "junk" / "latest"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    st = bad.parent.parent / "qwen3-st" / "latest"
    st.parent.mkdir()
    st.write_text('{"layers": [{"mediaType": "application/vnd.ollama.image.tensor; name=x", "digest": "sha256:00"}]}')
    registry = Registry()
    names = by_name(registry.list())
    assert not any("Broken" in n for n in names)
    assert any("broken link" in n and "gone.gguf" in n for n in registry.notes)
    assert not any("Downloading" in n for n in names)
    assert any("junk" in n and "not an Ollama manifest" in n for n in registry.notes)
    assert any("qwen3-st" in n and "safetensors" in n for n in registry.notes)
    rows = {r["name"]: r for r in run_json(capsys, "models", "--source", "ollama")}
    assert rows["ollama:notgguf:latest"]["status"].startswith("invalid: not a GGUF file")
    assert rows["ollama:half:latest"]["status"].startswith("invalid: truncated")
    code, _, err = run(capsys, "show", "ollama:half")
    assert code == 4 and "truncated" in err and "Traceback" not in err


def test_an_unreadable_folder_is_skipped_with_a_note(home, gguf, monkeypatch):
    stores.gpt4all(home, "fine.gguf", gguf())
    locked = stores.lmstudio(home, "locked/Repo-GGUF", "x.gguf", gguf("x")).parent.parent
    locked.chmod(0)
    real = os.scandir

    def scandir(path=".", _real=real):
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return _real(path)

    try:
        # Only while listing: pytest's own clean-up of tmp_path must see the real folder.
        with monkeypatch.context() as m:
            if os.access(locked, os.R_OK):   # root reads anything: refuse it the way the kernel would
                m.setattr(os, "scandir", scandir)
            registry = Registry()
            names = by_name(registry.list())
    finally:
        locked.chmod(0o755)
    assert "gpt4all:fine.gguf" in names
    assert any(str(locked) in n and "Permission denied" in n for n in registry.notes)


def test_a_short_name_two_models_share_is_an_error_listing_them(home, gguf, capsys):
    stores.hf_cache(home, "a/Tiny-GGUF", "tiny-Q4_0.gguf", gguf("one"))
    stores.lmstudio(home, "b/Tiny-GGUF", "tiny-Q4_0.gguf", gguf("two"))
    with pytest.raises(AmbiguousModelError) as err:
        Registry().resolve("tiny-Q4_0.gguf")
    assert err.value.matches == ["hf:a/Tiny-GGUF:tiny-Q4_0.gguf", "lmstudio:b/Tiny-GGUF:tiny-Q4_0.gguf"]
    code, _, out = run(capsys, "show", "tiny-Q4_0")
    assert code == 2 and "hf:a/Tiny-GGUF:tiny-Q4_0.gguf" in out and "lmstudio:b/" in out


def test_a_file_that_vanished_since_listing_is_a_clear_error(home, gguf, capsys):
    blob = stores.ollama(home, "brief", "1b", gguf())
    registry = Registry()
    assert "ollama:brief:1b" in by_name(registry.list())
    blob.unlink()
    with pytest.raises(ModelFileError) as err:
        check_present(registry.resolve("ollama:brief:1b"))
    assert "listed from Ollama" in err.value.problem and "gone" in err.value.problem
    code, _, out = run(capsys, "show", "ollama:brief:1b")
    assert code == 4 and "listed from Ollama" in out


def test_source_filter_and_disabled_sources(home, gguf, capsys, monkeypatch):
    stores.gpt4all(home, "g.gguf", gguf("g"))
    stores.ollama(home, "o", "1", gguf("o"))
    names = {r["name"] for r in run_json(capsys, "models", "--source", "gpt4all")}
    assert names == {"gpt4all:g.gguf"}
    monkeypatch.setenv("BAKEOFF_SOURCES", '["gpt4all"]')
    reset_settings()
    assert "ollama:o:1" not in by_name(Registry().list())
    code, _, err = run(capsys, "models", "--source", "nowhere")
    assert code == 2 and "nowhere" in err


def test_user_folders_from_settings_and_the_folders_command(tmp_path, gguf, capsys, monkeypatch):
    mine = tmp_path / "my-models"
    write_minimal(mine / "sub" / "mine.gguf", "mine")
    code, out, err = run(capsys, "folders", "add", str(mine))
    assert code == 0, err
    ref = Registry().resolve("mine")
    assert ref.source == "folder" and "folder:sub/mine" in ref.aliases
    code, out, _ = run(capsys, "folders")
    assert str(mine) in out
    run(capsys, "folders", "remove", str(mine))
    assert "mine" not in by_name(Registry().list())
    code, _, err = run(capsys, "folders", "add", str(tmp_path / "missing"))
    assert code == 2 and "not a folder" in err


def test_catalog_matches_a_store_file_by_the_repo_it_came_from(home, gguf, capsys):
    from bakeoff.catalog.load import catalog

    entry = next(e for e in catalog().entries.values() if e.gguf_repos)
    stores.lmstudio(home, entry.gguf_repos[0], "model-Q4_K_M.gguf", gguf("nameless"))
    rows = {r["name"]: r for r in run_json(capsys, "models", "--source", "lmstudio")}
    row = rows[f"lmstudio:{entry.gguf_repos[0]}:model-Q4_K_M.gguf"]
    assert row["catalog_id"] == entry.id and row["catalog_match"] == "repo"


def test_configured_locations_of_each_tool(home, tmp_path, gguf, monkeypatch):
    import json

    # LM Studio's own setting for its models folder, GPT4All's modelPath, llama.cpp's new cache
    # layout (HF-style folders) under LLAMA_CACHE, and an HF cache under XDG_CACHE_HOME.
    (home / ".lmstudio").mkdir()
    (home / ".lmstudio" / "settings.json").write_text(json.dumps({"downloadsFolder": str(tmp_path / "lms")}))
    write_minimal(tmp_path / "lms" / "pub" / "Repo-GGUF" / "m.gguf", "lms")
    ini = home / ".config" / "nomic.ai" / "GPT4All.ini"
    ini.parent.mkdir(parents=True)
    ini.write_text(f"[General]\nmodelPath={tmp_path / 'g4a'}\n")
    write_minimal(tmp_path / "g4a" / "g.gguf", "g4a")
    cache = tmp_path / "llcache"
    snap = stores.hf_cache(tmp_path / "x", "o/R-GGUF", "r.gguf", gguf("r"))
    (cache).mkdir()
    os.rename(snap.parents[2], cache / snap.parents[2].name)
    monkeypatch.setenv("LLAMA_CACHE", str(cache))
    stores.hf_cache(tmp_path / "xdg-root", "o/X-GGUF", "x.gguf", gguf("x"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-root" / ".cache"))
    names = by_name(Registry().list())
    assert {"lmstudio:pub/Repo-GGUF:m.gguf", "gpt4all:g.gguf", "llamacpp:o/R-GGUF:r.gguf",
            "hf:o/X-GGUF:x.gguf"} <= set(names)


def test_listing_never_loads_llama_cpp(home, gguf):
    import subprocess
    import sys

    stores.ollama(home, "quick", "1b", gguf("q"))
    stores.hf_cache(home, "o/Q-GGUF", "q.gguf", gguf("h"))
    code = ("import sys; from bakeoff.cli.main import main; rc = main(['models', '--json']); "
            "print(rc, 'llama_cpp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "0 False", out.stderr


def test_pipes_devices_and_json_bombs_in_other_tools_stores_do_not_hang_or_break_listing(home, gguf):
    """A FIFO as an Ollama manifest or template blob, a link to /dev/zero as a manifest, and a
    manifest or settings file nested too deep for Python's JSON parser: each is skipped with a
    note (or its text left out), and every other model is still listed."""
    import threading

    stores.ollama(home, "fine", "latest", gguf("fine"))
    blob = stores.ollama(home, "tpl", "latest", gguf("tpl"), template="{{ .System }} {{ .Prompt }}")
    tags = home / ".ollama" / "models" / "manifests" / "registry.ollama.ai" / "library"
    (tags / "piped").mkdir()
    os.mkfifo(tags / "piped" / "latest")
    (tags / "zero").mkdir()
    os.symlink("/dev/zero", tags / "zero" / "latest")
    (tags / "deep").mkdir()
    (tags / "deep" / "latest").write_text("[" * 200_000)
    template = json.loads((tags / "tpl" / "latest").read_text())["layers"][1]["digest"]
    template_blob = blob.parent / template.replace(":", "-")
    template_blob.unlink()
    os.mkfifo(template_blob)
    (home / ".lmstudio").mkdir()
    (home / ".lmstudio" / "settings.json").write_text('{"a": ' * 100_000)
    stores.lmstudio(home, "pub/Repo-GGUF", "x.gguf", gguf("x"))
    registry = Registry()
    result: list = []
    worker = threading.Thread(target=lambda: result.append(registry.list()), daemon=True)
    worker.start()
    worker.join(60)
    try:
        assert not worker.is_alive(), "listing models hung on a FIFO"
    finally:  # release a reader still blocked on a FIFO (a regression)
        for fifo in (tags / "piped" / "latest", template_blob):
            os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))
    names = by_name(result[0])
    assert {"ollama:fine:latest", "ollama:tpl:latest", "lmstudio:pub/Repo-GGUF:x.gguf"} <= set(names)
    assert names["ollama:tpl:latest"].origin.template is None
    for bad in ("piped", "zero"):
        assert any(f"/{bad}/latest" in n and "cannot be read" in n for n in registry.notes), registry.notes
    assert any("/deep/latest" in n and "not an Ollama manifest" in n for n in registry.notes)


def test_model_files_that_are_pipes_or_devices_in_two_stores_do_not_hang_listing(home, gguf):
    """Links named *.gguf to a FIFO (an HF cache snapshot, an Ollama blob) and to /dev/zero (an LM
    Studio folder): all have size 0, so the duplicate check hashed them to compare, blocking on
    the FIFO or reading /dev/zero without end. Each is listed as not a regular file."""
    import threading

    fifo = home / "fifo"
    os.mkfifo(fifo)
    snapshot = stores.hf_cache(home, "evil/repo-GGUF", "fine-Q4_K_M.gguf", gguf("fine"))
    (snapshot.parent / "piped-Q4_0.gguf").symlink_to(fifo)
    blob = stores.ollama(home, "piped", "latest", gguf("other"))
    blob.unlink()
    blob.symlink_to(fifo)
    folder = stores.lmstudio(home, "pub/Repo-GGUF", "x.gguf", gguf("x")).parent
    (folder / "zero-Q8_0.gguf").symlink_to("/dev/zero")
    result: list = []
    worker = threading.Thread(target=lambda: result.append(Registry().list()), daemon=True)
    worker.start()
    worker.join(60)
    try:
        assert not worker.is_alive(), "listing models hung on a pipe or device"
    finally:  # release a reader still blocked on the FIFO (a regression)
        os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))
    names = set(by_name(result[0]))
    assert {"hf:evil/repo-GGUF:fine-Q4_K_M.gguf", "lmstudio:pub/Repo-GGUF:x.gguf"} <= names
    # listed (`bakeoff models` shows each as "invalid: is not a regular file"), never merged
    assert {"hf:evil/repo-GGUF:piped-Q4_0.gguf", "ollama:piped:latest",
            "lmstudio:pub/Repo-GGUF:zero-Q8_0.gguf"} <= names


def test_a_kill_while_the_folder_list_is_written_keeps_the_old_list(tmp_path, capsys, monkeypatch):
    """The list was rewritten in place: a kill half-way left half a list (the same for the KL
    sweep's progress file, which then failed every later run). Simulated by a write that stops
    half-way with KeyboardInterrupt."""
    from bakeoff.models.sources.folders import folders_file
    from bakeoff.settings import get_settings

    first, second = tmp_path / "first", tmp_path / "second-with-a-long-name"
    first.mkdir()
    second.mkdir()
    assert run(capsys, "folders", "add", str(first))[0] == 0
    listed = folders_file(get_settings()).read_text()

    real_write = Path.write_text

    def interrupted(self, text, *args, **kwargs):
        if "folders.txt" not in self.name:   # other writes (the home's write probe) go through
            return real_write(self, text, *args, **kwargs)
        with open(self, "w") as fh:
            fh.write(text[: len(text) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", interrupted)
    with pytest.raises(KeyboardInterrupt):
        from bakeoff.cli.folders import _save

        _save([first, second])
    monkeypatch.undo()
    assert folders_file(get_settings()).read_text() == listed
    assert [p.name for p in folders_file(get_settings()).parent.iterdir() if p.name.endswith(".tmp")] == []


def _age(*roots: Path) -> None:
    """Date every folder and file under roots an hour back (stamps this old are trusted)."""
    old = time.time() - 3600
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in (*dirs, *files):
                os.utime(os.path.join(folder, name), (old, old), follow_symlinks=False)
        os.utime(root, (old, old))


def test_the_stores_listing_is_reused_until_a_file_appears_changes_or_goes(home, gguf, bakeoff_home,
                                                                             monkeypatch):
    from bakeoff.models.sources import Scan

    stores.ollama(home, "llama3.2", "1b", gguf("a"))
    snap = stores.hf_cache(home, "bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf", gguf("b"))
    _age(home, bakeoff_home)
    walked: list[str] = []
    real = Scan.entries
    monkeypatch.setattr(Scan, "entries", lambda self, folder: walked.append(str(folder)) or real(self, folder))
    first = by_name(Registry().list())
    assert walked and "hf:bartowski/Tiny-GGUF:Tiny-Q4_K_M.gguf" in first
    walked.clear()
    assert Registry().resolve("llama3.2:1b").path == first["ollama:llama3.2:1b"].path
    assert walked == []   # nothing changed: no store was walked again
    # A new tag deep in Ollama's manifests, a file dropped into BAKEOFF_HOME/models, and a manifest
    # rewritten in place (the same tag pulled again) are all seen by the very next call.
    stores.ollama(home, "qwen2.5", "0.5b", gguf("c"))
    assert Registry().resolve("qwen2.5:0.5b").name == "ollama:qwen2.5:0.5b"
    (bakeoff_home / "models" / "mine.gguf").write_bytes(gguf("d"))
    assert Registry().resolve("mine").source == "local"
    blob = stores.ollama(home, "llama3.2", "1b", gguf("e"))
    assert Registry().resolve("llama3.2:1b").path == str(blob)
    # A file that goes is gone from the next listing.
    os.unlink(snap)
    assert "hf:bartowski/Tiny-GGUF:Tiny-Q4_K_M.gguf" not in by_name(Registry().list())


def test_a_store_folder_made_after_a_listing_is_seen(home, gguf):
    _age(home)
    assert "gpt4all:late.gguf" not in by_name(Registry().list())
    stores.gpt4all(home, "late.gguf", gguf())
    assert "gpt4all:late.gguf" in by_name(Registry().list())
