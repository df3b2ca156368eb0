"""The daily roll-up also counts the requests that did not end "ok", and a second roll-up sums usage per UTC day,
key, project and zone, both filled from the usage rows already written: the dashboard's error rate and by-key
table read thousands of rows instead of a month's million.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("usage_daily", sa.Column("errors", sa.BigInteger, nullable=False, server_default="0"))
    # One pass over the rows, then one update per roll-up row by its key (a correlated subquery per roll-up row
    # would read a day's rows again for each of them).
    connection = op.get_bind()
    failed = connection.execute(
        sa.text(
            "SELECT day, COALESCE(project, ''), model, COALESCE(target, ''), COALESCE(zone, ''), COUNT(*)"
            " FROM usage WHERE status != 'ok'"
            " GROUP BY day, COALESCE(project, ''), model, COALESCE(target, ''), COALESCE(zone, '')"
        )
    ).all()
    if failed:
        connection.execute(
            sa.text(
                "UPDATE usage_daily SET errors = :n WHERE day = :day AND project = :project AND model = :model"
                " AND target = :target AND zone = :zone"
            ),
            [dict(zip(("day", "project", "model", "target", "zone", "n"), row, strict=True)) for row in failed],
        )
    op.create_table(
        "usage_daily_keys",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("key_prefix", sa.String(16), primary_key=True),
        sa.Column("project", sa.String(64), primary_key=True),
        sa.Column("zone", sa.String(8), primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        sa.Column("busy_seconds", sa.Float, nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO usage_daily_keys (day, key_prefix, project, zone, requests, prompt_tokens, completion_tokens,"
        " busy_seconds, cost, errors)"
        " SELECT day, COALESCE(key_prefix, ''), COALESCE(project, ''), COALESCE(zone, ''), COUNT(*),"
        " SUM(prompt_tokens), SUM(completion_tokens), COALESCE(SUM(compute_seconds), 0), SUM(cost),"
        " SUM(CASE WHEN status != 'ok' THEN 1 ELSE 0 END)"
        " FROM usage GROUP BY day, COALESCE(key_prefix, ''), COALESCE(project, ''), COALESCE(zone, '')"
    )


def downgrade() -> None:
    op.drop_table("usage_daily_keys")
    with op.batch_alter_table("usage_daily") as batch:
        batch.drop_column("errors")
