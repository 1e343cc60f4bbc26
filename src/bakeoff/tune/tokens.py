"""Training sequences: each conversation rendered with the model's chat template and tokenized by
llama.cpp itself (the same renderer and tokenizer the engine asks the tuned model with), with the
loss only on the assistant turns being learned (their text and the template's end-of-turn)."""

from __future__ import annotations

from dataclasses import dataclass

from ..engines.base import Message
from ..engines.chat_template import ChatRenderer
from ..errors import SuiteError
from .data import Example

IGNORE = -100   # label of a token the loss skips (torch's cross_entropy ignore_index)


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]        # IGNORE where the token is context, else the token id
    source: str

    @property
    def n_learned(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def encode(example: Example, renderer: ChatRenderer) -> Encoded:
    """Pieces of the rendered text, in order: context (masked), learned turn, context, ...

    The text before a learned turn is the conversation so far rendered with the generation prompt
    (exactly what the engine sends at inference); the learned piece is what the full render adds."""
    ids: list[int] = []
    labels: list[int] = []
    done = ""
    msgs: list[Message] = []
    for turn in example.turns:
        if turn.learn:
            prompt = renderer.render(msgs, add_generation_prompt=True)
            msgs.append(Message(role="assistant", content=turn.content))
            full = renderer.render(msgs, add_generation_prompt=False)
            if not (prompt.startswith(done) and full.startswith(prompt)):
                raise SuiteError("the chat template does not render this conversation as a "
                                 "growing prefix, so its assistant turns cannot be masked",
                                 example.source, hint="use a model whose template renders turns in order")
            for text, learn in ((prompt[len(done):], False), (full[len(prompt):], True)):
                piece = renderer.tokens(text, first=not ids)
                ids += piece
                labels += piece if learn else [IGNORE] * len(piece)
            done = full
        else:
            msgs.append(Message(role=turn.role, content=turn.content))
    return Encoded(ids, labels, example.source)


def encode_all(examples: list[Example], renderer: ChatRenderer, max_length: int) -> list[Encoded]:
    """Encode every example; one longer than max_length stops the run (truncation would cut the
    answer, the only part that is learned)."""
    out = []
    for ex in examples:
        enc = encode(ex, renderer)
        if len(enc.input_ids) > max_length:
            raise SuiteError(f"example is {len(enc.input_ids)} tokens, longer than --max-length "
                             f"{max_length}", ex.source, hint="raise --max-length or shorten it")
        out.append(enc)
    return out
