"""The privacy guard: find sensitive data in request text. Knows nothing of HTTP or routing."""
