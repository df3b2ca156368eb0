"""Persistence: keys, projects, usage and the audit log, on SQLite or PostgreSQL through SQLAlchemy."""
