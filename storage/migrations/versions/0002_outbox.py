"""Outbox: chat messages owed to channels, delivered exactly once.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbound_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("payload", sa.String(20000), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("platform_message_id", sa.String(100)),
        sa.Column("last_error", sa.String(1000)),
    )
    op.create_index("ix_outbound_due", "outbound_message", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("outbound_message")
