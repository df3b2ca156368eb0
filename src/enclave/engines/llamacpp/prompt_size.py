"""A prompt refused for its length before it is tokenized: tokenizing megabytes takes seconds and memory.

No token stands for more than the vocabulary's widest piece (in non-whitespace bytes), so a prompt takes at
least (non-whitespace characters) / (widest piece) tokens, whatever the tokenizer does with it. Whitespace is
left out because llama.cpp may strip it beside a special token; characters are counted rather than bytes because
a character is at least one byte. The bound is computed in microseconds for megabytes of text.
"""

from __future__ import annotations

from enclave.engines.base import GenerationRequest
from enclave.errors import ContextLengthExceeded

_WHITESPACE = " \t\n\r\v\f"


def fewest_tokens(texts: list[str], widest_piece: int) -> int:
    covered = sum(len(t) - sum(t.count(c) for c in _WHITESPACE) for t in texts)
    return -(-covered // widest_piece)


def refuse_if_longer_than(request: GenerationRequest, context: int, widest_piece: int) -> None:
    """Raise ContextLengthExceeded when the prompt cannot fit ``context`` tokens, judged by its length alone."""
    texts = [m.content for m in request.messages] if request.messages is not None else [request.prompt or ""]
    least = fewest_tokens(texts, widest_piece)
    if least >= context:
        raise ContextLengthExceeded(
            f"This model's maximum context length is {context} tokens, but the prompt has at least {least} "
            "tokens. Shorten the prompt.",
            param="messages" if request.messages is not None else "prompt",
        )
