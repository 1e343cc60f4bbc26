"""A model's chat template is rendered bounded in time, size and memory, and its failures are typed:
the request's fault (the template's raise_exception) or the model file's (syntax, a forbidden
operation, too slow, too big) — never an "unexpected" error, never a hang."""

from __future__ import annotations

import pytest

from bakeoff.engines.chat_template import ChatTemplate, TemplateLimits
from bakeoff.errors import ChatTemplateError, InvalidParamsError, ModelFileError

HI = [{"role": "user", "content": "hi"}]


def _template(source: str, timeout_s: float = 10.0) -> ChatTemplate:
    return ChatTemplate(source, bos_token="<s>", eos_token="</s>", path="/models/m.gguf",
                        limits=TemplateLimits(timeout_s=timeout_s, max_chars=1 << 20))


def test_a_real_template_renders_as_llama_cpp_renders_it(smollm2_path):
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    from bakeoff.models.gguf_info import read_gguf_info

    source = read_gguf_info(smollm2_path).chat_template
    messages = [{"role": "system", "content": "Be brief."}, *HI, {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Ünïcode ✓ and \"quotes\""}]
    ours = _template(source).render(messages)
    theirs = Jinja2ChatFormatter(source, eos_token="</s>", bos_token="<s>")(messages=messages).prompt
    assert ours == theirs and ours.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("source, problem", [
    ("{% for a in range(100000) %}{% for b in range(100000) %}{{ '' }}{% endfor %}{% endfor %}",
     "took longer than 1 s to render"),
    ("{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}", "rendered more than"),
    ("{% set s = 'x' * 400000000 %}{{ s ~ s ~ s }}", "MiB to render|renderer died|took longer"),
    ("{% for m in messages %}{{ m.content }}", "syntax error at line 1"),
    ("{{ messages.append(1) }}", "forbidden operation"),
    ("{{ ().__class__.__base__.__subclasses__() }}", "forbidden operation"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursion too deep"),
    ("{{ messages[0].content + 1 }}", "TypeError"),
])
def test_a_hostile_or_broken_template_is_a_model_file_error(source, problem):
    with pytest.raises(ChatTemplateError, match=problem) as err:
        _template(source, timeout_s=1.0).render(HI)
    assert err.value.path == "/models/m.gguf" and "chat template" in str(err.value)
    assert _template("{{ messages[0].content }}").render(HI) == "hi"   # the renderer recovers


def test_the_templates_own_refusal_is_a_bad_request():
    source = "{% if messages[0].role != 'system' %}{{ raise_exception('a system message must come first') }}{% endif %}"
    with pytest.raises(InvalidParamsError, match="a system message must come first") as err:
        _template(source).render(HI)
    assert err.value.param == "messages"


def test_the_engine_reports_template_failures_as_typed_errors(tmp_path, smollm2_path):
    from bakeoff.engines import LoadOptions, open_engine
    from bakeoff.engines.base import Message
    from bakeoff.models.ref import ModelRef
    from tinygguf import write_tiny

    cases = [("{{ raise_exception('no') }}", InvalidParamsError),
             ("{% if %}", ModelFileError), ("{{ ''.__class__.__mro__ }}", ModelFileError)]
    for i, (source, kind) in enumerate(cases):
        path = write_tiny("llama", tmp_path / f"t{i}.gguf", smollm2_path, chat_template=source)
        engine = open_engine(ModelRef(name=f"t{i}", engine="llamacpp", source="file", path=str(path)),
                             LoadOptions(n_ctx=256))
        try:
            with pytest.raises(kind):
                engine.chat_tokens([Message(role="user", content="hi")])
        finally:
            engine.close()


def test_renders_from_threads_that_come_and_go():
    """A server renders on short-lived worker threads; the renderer outlives each of them."""
    import threading

    from bakeoff.engines import chat_template

    chat_template._workers.close()           # the next render starts the renderer on a thread
    results: list[str] = []
    for i in range(3):
        t = threading.Thread(target=lambda i=i: results.append(_template("{{ messages[0].content }}!").render(
            [{"role": "user", "content": str(i)}])))
        t.start()
        t.join()
    assert results == ["0!", "1!", "2!"]


def test_a_runaway_template_does_not_hold_up_another_models():
    """One renderer was shared by every model: a server's chat for every model waited 10 s behind
    each request to a model whose template loops (41 s behind four of them, measured)."""
    import threading

    from bakeoff.engines import chat_template

    good = _template("{{ messages[0].content }}?")
    assert good.render(HI) == "hi?"          # its renderer is up
    loop = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    stuck = threading.Thread(target=lambda: pytest.raises(ChatTemplateError, _template(loop, 120).render, HI))
    stuck.start()
    try:
        stuck.join(0.5)                        # the runaway render has begun
        done: list[str] = []
        other = threading.Thread(target=lambda: done.append(good.render(HI)))
        other.start()
        other.join(100)
        assert done == ["hi?"] and stuck.is_alive(), "the other model's render waited for the runaway one"
    finally:
        chat_template._workers.close()         # ends the runaway renderer
        stuck.join(30)
    assert not stuck.is_alive()
