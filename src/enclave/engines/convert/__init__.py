"""Hugging Face checkpoints turned into GGUF files that llama.cpp loads, with numpy alone (no torch)."""
