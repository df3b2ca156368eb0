"""Usage rows record which tools an answer called (names and counts, never arguments) and whether its shape
was enforced (a JSON response format or a forced tool call).

Rows written before this revision read as no tools called and not constrained.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage") as table:
        table.add_column(sa.Column("tools", sa.String(1024), nullable=True))
        table.add_column(sa.Column("constrained", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("usage") as table:
        table.drop_column("constrained")
        table.drop_column("tools")
