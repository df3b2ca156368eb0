"""Engines produce tokens. They know nothing of HTTP, routing or policy."""
