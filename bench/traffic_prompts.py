"""Requests for the real-traffic benchmark: short chat turns and 1,000-4,000-token documents to answer about.

The documents are excerpts of this repository's own docs/*.md, cut at paragraph boundaries at seeded offsets, so
every long prompt differs from the start (no server gets a prefix hit it would not get in real traffic) and the
same seed gives both servers the same requests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import llama_cpp

DOCS = Path(__file__).resolve().parent.parent / "docs"
LONG_TOKENS = (1000, 3700)  # the document's own tokens; the template and question add <100, the answer 128

SHORT = [
    "What is the capital of Portugal?",
    "Give me three ideas for a rainy Sunday.",
    "How do I reverse a list in Python?",
    "Translate 'good morning, how are you?' into French.",
    "Explain what a hash table is in two sentences.",
    "Write a haiku about autumn leaves.",
    "What is the difference between TCP and UDP?",
    "Suggest a name for a small bakery.",
    "How many minutes are there in a week?",
    "Why is the sky blue?",
    "Write a polite email declining a meeting.",
    "What does HTTP status 404 mean?",
    "List the planets of the solar system.",
    "How do I boil an egg so the yolk stays soft?",
    "Summarise the plot of Romeo and Juliet in one paragraph.",
    "What is a prime number? Give two examples.",
    "Recommend a stretching routine for office workers.",
    "What is the boiling point of water at sea level?",
    "Explain recursion to a ten-year-old.",
    "Write a SQL query that counts rows per day in a table of orders.",
]
# Earlier turns for some short chats, so a share of them carry a little history.
HISTORY = [
    ("I'm planning a trip to Norway in March.", "March is still winter there: expect snow and short days."),
    ("I'm learning to cook.", "Great! Start with simple dishes like omelettes and pasta."),
    ("My laptop is slow.", "Check which programs start at boot and how full the disk is."),
]
QUESTIONS = [
    "Summarise the text above in three sentences.",
    "What configuration options does the text above mention? List them.",
    "What problem does the section above solve, and how?",
    "Which figures does the text above report, and what do they measure?",
    "Write a short FAQ entry (question and answer) from the text above.",
    "What limitations or caveats does the text above describe?",
    "Explain the text above to a new team member in plain words.",
]


@dataclass
class Request:
    messages: list[dict[str, str]]
    prompt_tokens: int  # of the content alone (the chat template adds a few)


class Corpus:
    """The docs as paragraphs with their token counts, measured with the served model's own tokenizer."""

    def __init__(self, model: Path) -> None:
        vocab = llama_cpp.Llama(str(model), vocab_only=True, verbose=False)
        self.paragraphs: list[tuple[str, int]] = []
        for path in sorted(DOCS.glob("*.md")):
            for block in path.read_text().split("\n\n"):
                if block.strip():
                    self.paragraphs.append((block, len(vocab.tokenize(block.encode(), add_bos=False))))
        vocab.close()

    def excerpt(self, rng: random.Random, tokens: int) -> tuple[str, int]:
        """Paragraphs from a random one on, as many as fit in ``tokens`` (wrapping around the corpus)."""
        start = rng.randrange(len(self.paragraphs))
        parts: list[str] = []
        total = 0
        for i in range(len(self.paragraphs)):
            text, n = self.paragraphs[(start + i) % len(self.paragraphs)]
            if total + n + 2 > tokens:
                if parts:
                    break
                continue  # a paragraph longer than the whole budget: skip it
            parts.append(text)
            total += n + 2  # the blank line between paragraphs
        return "\n\n".join(parts), total

    def requests(
        self, seed: int, count: int, long_share: float, long_tokens: tuple[int, int] = LONG_TOKENS
    ) -> list[Request]:
        """``count`` requests, about ``long_share`` of them documents of ``long_tokens`` tokens, the rest short
        chat turns."""
        rng = random.Random(seed)
        out = []
        for _ in range(count):
            if rng.random() < long_share:
                text, n = self.excerpt(rng, rng.randint(*long_tokens))
                content = f"{text}\n\n{rng.choice(QUESTIONS)}"
                out.append(Request([{"role": "user", "content": content}], n))
                continue
            messages: list[dict[str, str]] = []
            if rng.random() < 0.3:
                said, answered = rng.choice(HISTORY)
                messages += [{"role": "user", "content": said}, {"role": "assistant", "content": answered}]
            question = rng.choice(SHORT)
            messages.append({"role": "user", "content": question})
            out.append(Request(messages, sum(len(m["content"]) for m in messages) // 4))
        return out
