"""The HTTP edge: OpenAI wire types and FastAPI routes that translate to and from the gateway."""
