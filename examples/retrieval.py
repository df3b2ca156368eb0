"""Retrieval with enclave's embeddings: embed a few documents, then find the ones nearest a question.

Runs against a server started with `make run` (the default embedding model, all-MiniLM-L6-v2, is served
beside the chat model):

    python examples/retrieval.py "How do I bake a cake?"

ENCLAVE_BASE_URL (default http://127.0.0.1:8000/v1) and ENCLAVE_API_KEY (when the server requires keys) say
where and as whom. Prints the question, then each document with its cosine similarity, best first.
"""

from __future__ import annotations

import os
import sys

import numpy as np
from openai import OpenAI

MODEL = "all-minilm-l6-v2"
DOCUMENTS = [
    "Preheat the oven to 180 degrees, then bake the sponge cake for 30 minutes.",
    "The central bank raised interest rates by a quarter point.",
    "Our office is closed on public holidays.",
    "Water the tomato plants every morning during the summer.",
    "To reset your password, open Settings and choose Security.",
]


def main() -> None:
    question = sys.argv[1] if len(sys.argv) > 1 else "How do I bake a cake?"
    client = OpenAI(
        base_url=os.environ.get("ENCLAVE_BASE_URL", "http://127.0.0.1:8000/v1"),
        api_key=os.environ.get("ENCLAVE_API_KEY", "unused"),
    )
    # One request for every document; the vectors come back in input order, each of unit length.
    documents = client.embeddings.create(model=MODEL, input=DOCUMENTS)
    matrix = np.array([item.embedding for item in documents.data])
    query = np.array(client.embeddings.create(model=MODEL, input=question).data[0].embedding)
    # Cosine similarity; the norms are 1 already, dividing keeps this right for any model.
    scores = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    print(f"question: {question}")
    for index in np.argsort(-scores):
        print(f"{scores[index]:.3f}  {DOCUMENTS[index]}")


if __name__ == "__main__":
    main()
