"""Grammars from clients (GBNF, guided_choice) and from JSON schemas are bounded before llama.cpp
sees them: a deep group nesting crashed the process (stack overflow in llama.cpp's parser), a big
repetition count allocated gigabytes, a small schema with a huge minLength built a 500 MB grammar."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bakeoff.engines.grammar import check_grammar, schema_to_grammar
from bakeoff.errors import InvalidParamsError


@pytest.mark.parametrize("grammar, problem", [
    ("root ::= " + "(" * 300 + '"a"' + ")" * 300, "nests groups 300 deep"),
    ('root ::= "a"{0,10000000}', "repeats an item 10,000,000 times"),
    ('root ::= [a-z]{5}  x{3,99999}', "99,999 times"),
    ("root ::= " + " | ".join(f'"w{i}"' for i in range(10_000)), "characters, more than"),
])
def test_grammars_that_would_crash_or_flood_llama_cpp_are_refused(grammar: str, problem: str) -> None:
    with pytest.raises(InvalidParamsError, match=problem):
        check_grammar(grammar)


def test_ordinary_grammars_pass_and_literals_do_not_count() -> None:
    check_grammar('root ::= "(((((" [{}(]{1,3} ("a" | "b"){2,40} # {99999999}\n')
    check_grammar("root ::= " + "(" * 50 + '"x"' + ")" * 50)


@pytest.mark.parametrize("schema, problem", [
    ({"type": "string", "minLength": 100_000_000}, "minLength is 100,000,000"),
    ({"type": "object", "properties": {"a": {"type": "array", "maxItems": 10**9}}}, "maxItems"),
    ({"type": "string", "pattern": "^[a-z]{0,10000000}$"}, "10,000,000 times"),
])
def test_small_schemas_that_expand_to_huge_grammars_are_refused_before_expanding(schema, problem) -> None:
    with pytest.raises(InvalidParamsError, match=problem):
        schema_to_grammar(schema)
    assert schema_to_grammar({"type": "string", "maxLength": 200, "pattern": "^[a-z]{1,20}$"})


def test_a_deeply_nested_grammar_is_an_error_not_a_crash_of_the_process(smollm2_path) -> None:
    """Run in a child: before the bound, llama.cpp died with SIGSEGV and took the server with it."""
    code = textwrap.dedent(f"""
        from bakeoff.engines.llama_lowlevel import VocabOnly, make_sampler
        from bakeoff.errors import InvalidParamsError
        vocab = VocabOnly({str(smollm2_path)!r})
        try:
            make_sampler(vocab, temperature=0.0, top_k=40, top_p=1.0, min_p=0.0, repeat_penalty=1.0,
                         seed=1, grammar="root ::= " + "(" * 20000 + '"a"' + ")" * 20000)
        except InvalidParamsError as exc:
            print("REFUSED", exc)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "REFUSED" in done.stdout, (done.returncode, done.stderr[-500:])


@pytest.mark.parametrize("grammar", [
    'root ::= "\\x00"', 'root ::= "a" "\\u0000"', 'root ::= [\\x00-\\x00]', 'root ::= "\\U00200000"',
    'root ::= []', 'root ::= [^\\x01-\\U0010FFFF]', 'root ::= "ok" | "\\U00000000"',
])
def test_a_grammar_no_token_can_follow_is_refused(grammar: str) -> None:
    """llama.cpp aborts the process when a grammar leaves no token to sample (it masks tokens
    starting with NUL; none decodes past U+10FFFF): one such request killed `bakeoff serve`."""
    from bakeoff.engines.base import GenParams

    with pytest.raises(InvalidParamsError, match="no token can produce"):
        GenParams.build(grammar=grammar)


def test_classes_with_other_characters_beside_nul_pass() -> None:
    check_grammar('root ::= [^"\\\\\\x7F\\x00-\\x1F]+ [\\x00-\\x1f] [^] [\\x00a] "\\\\x00"')
    grammar = schema_to_grammar({"type": "object", "properties": {"s": {"type": "string"}, "n": {"enum": ["a", "b"]}}})
    check_grammar(grammar)
    with pytest.raises(InvalidParamsError, match="no token can produce"):
        schema_to_grammar({"const": "\u0000"})
