"""Usage summed per UTC day, project, model, target and zone, for reports over long periods (``enclave costs``),
filled from the usage rows already written.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_daily",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("project", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(128), primary_key=True),
        sa.Column("target", sa.String(256), primary_key=True),
        sa.Column("zone", sa.String(8), primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        sa.Column("busy_seconds", sa.Float, nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
    )
    op.execute(
        "INSERT INTO usage_daily (day, project, model, target, zone, requests, prompt_tokens, completion_tokens,"
        " busy_seconds, cost)"
        " SELECT day, COALESCE(project, ''), model, COALESCE(target, ''), COALESCE(zone, ''), COUNT(*),"
        " SUM(prompt_tokens), SUM(completion_tokens), COALESCE(SUM(compute_seconds), 0), SUM(cost)"
        " FROM usage GROUP BY day, COALESCE(project, ''), model, COALESCE(target, ''), COALESCE(zone, '')"
    )


def downgrade() -> None:
    op.drop_table("usage_daily")
