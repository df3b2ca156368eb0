"""Dashboard sessions kept server-side (the cookie holds only a random id; the store its SHA-256 and who signed
in), and SSO sign-ins under way (state, nonce and PKCE verifier, bound to the browser that started them).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ui_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("project", sa.String(64), nullable=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
        sa.Column("seen_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_ui_sessions_key_prefix", "ui_sessions", ["key_prefix"])
    op.create_table(
        "ui_sso_logins",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ui_sso_logins")
    op.drop_index("ix_ui_sessions_key_prefix", "ui_sessions")
    op.drop_table("ui_sessions")
