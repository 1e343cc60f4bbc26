import pytest

import fake_engine
from bakeoff.engines import GenParams, Message, collect, open_engine
from bakeoff.errors import InvalidParamsError, ModelNotFoundError
from bakeoff.models.registry import Registry


@pytest.fixture
def fakes():
    undo = fake_engine.install({"fake-alpha": lambda p: "alpha says " + p, "fake-beta": str.upper})
    yield
    undo()


def test_fake_models_resolve_through_the_real_registry(fakes):
    ref = Registry().resolve("FAKE-ALPHA")
    engine = open_engine(ref)
    resp = collect(engine.chat([Message(role="user", content="hi")], GenParams(temperature=0)))
    assert resp.text == "alpha says hi"
    assert resp.usage.completion_tokens == 3 and resp.finish_reason == "stop"


def test_packaged_models_and_aliases_are_listed():
    names = {n for r in Registry().list() for n in (r.name, *r.aliases)}
    assert {"smollm2-135m", "gemma3-270m"} <= names


def test_unknown_name_suggests_close_matches(fakes):
    with pytest.raises(ModelNotFoundError) as err:
        Registry().resolve("smollm-135")
    assert "smollm2-135m" in err.value.suggestions
    assert "did you mean" in err.value.hint


def test_local_gguf_under_home_is_listed(bakeoff_home, smollm2_path):
    import shutil

    shutil.copyfile(smollm2_path, bakeoff_home / "models" / "my-model.gguf")
    ref = Registry().resolve("my-model")
    assert ref.source == "local" and ref.path.endswith("my-model.gguf")


def test_a_path_resolves_as_a_file(tmp_path):
    ref = Registry().resolve(str(tmp_path / "x.gguf"))
    assert ref.source == "file"


def test_invalid_params_are_a_clear_error():
    with pytest.raises(InvalidParamsError) as err:
        GenParams.build(temperature=-1)
    assert err.value.param == "temperature"
    with pytest.raises(InvalidParamsError):
        GenParams.build(stop=[""])


def test_gemma_is_reassembled_once_and_verified(bakeoff_home):
    from bakeoff.models.packaged import GEMMA_FILE, gemma_expected_sha256, sha256_file

    ref = Registry().resolve("gemma3-270m")
    path = bakeoff_home / "models" / "packaged" / GEMMA_FILE
    assert ref.path == str(path)
    assert sha256_file(path) == gemma_expected_sha256()
    mtime = path.stat().st_mtime_ns
    Registry().resolve("gemma3-270m")
    assert path.stat().st_mtime_ns == mtime
