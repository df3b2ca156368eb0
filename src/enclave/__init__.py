"""enclave: open-weight models on your own hardware and hosted APIs behind one OpenAI-compatible gateway."""

__version__ = "0.1.0"
