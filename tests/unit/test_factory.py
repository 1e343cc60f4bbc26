"""The engine factory: names resolve through the registry, and it alone decides about batching."""

from __future__ import annotations

from typing import ClassVar

import pytest

from bakeoff.engines import factory
from bakeoff.engines.factory import open_engine, plan_load, register_engine
from bakeoff.engines.options import LoadOptions
from bakeoff.errors import ModelNotFoundError, UnsupportedError
from bakeoff.models.ref import ModelRef
from fake_engine import FakeEngine, install


class BatchableFake(FakeEngine):
    can_batch: ClassVar[bool] = True


class Wrapped:
    def __init__(self, inner, max_queue=None):
        self.inner, self.max_queue = inner, max_queue


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch):
    undo = install({"plain": lambda p: "hi"})
    register_engine("fake-batchable", BatchableFake)
    monkeypatch.setattr(factory, "SCHEDULER", f"{__name__}:Wrapped")
    yield ModelRef(name="batchable", engine="fake-batchable", source="test")
    undo()
    factory.ENGINES.pop("fake-batchable")


@pytest.mark.parametrize("options, wrapped", [
    (LoadOptions(), False),
    (LoadOptions(concurrency=2, max_queue=3), True),
    (LoadOptions(batched=True), True),                  # a server: the scheduler even for one slot
    (LoadOptions(concurrency=4, batched=False), False),
])
def test_only_engines_that_can_batch_are_wrapped_when_asked(fakes, options, wrapped) -> None:
    engine = open_engine(fakes, options)
    assert isinstance(engine, Wrapped) is wrapped
    if wrapped:
        assert isinstance(engine.inner, BatchableFake) and engine.max_queue == options.max_queue
    plain = open_engine("plain", options)  # resolved by name; cannot batch, so never wrapped
    assert type(plain) is FakeEngine and plain.ref.name == "plain"


def test_unknown_names_fail_clearly(fakes) -> None:
    with pytest.raises(ModelNotFoundError):
        open_engine("no-such-model")
    with pytest.raises(UnsupportedError, match="no engine named 'nope'"):
        open_engine(ModelRef(name="x", engine="nope", source="test"))


def test_a_remote_or_fake_model_plans_no_kv_cache(fakes) -> None:
    plan = plan_load(fakes, LoadOptions(concurrency=8))
    assert plan.n_ctx is None and plan.bytes == 0
