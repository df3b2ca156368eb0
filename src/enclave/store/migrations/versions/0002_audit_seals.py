"""Audit seals: each batch of audit entries carries the writer's Ed25519 signature over the entries it wrote.

The signature sits on the batch's last entry (``seal``), with the first entry it covers (``sealed_from``); entries
written before this revision have none until ``enclave audit migrate`` seals them.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as table:
        table.add_column(sa.Column("sealed_from", sa.BigInteger, nullable=True))
        table.add_column(sa.Column("seal", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as table:
        table.drop_column("seal")
        table.drop_column("sealed_from")
