"""Outbox claims name their owner (the database session that holds them); elected roles leave a
heartbeat a standby and /metrics can read.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbound_message", sa.Column("claim_owner", sa.String(100)))
    op.add_column("outbound_message", sa.Column("claim_token", sa.String(40)))
    op.create_index("ix_outbound_channel_state", "outbound_message", ["channel", "state"])
    op.create_table(
        "leader_heartbeat",
        sa.Column("role", sa.String(40), primary_key=True),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leader_heartbeat")
    op.drop_index("ix_outbound_channel_state", table_name="outbound_message")
    op.drop_column("outbound_message", "claim_token")
    op.drop_column("outbound_message", "claim_owner")
