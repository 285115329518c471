"""Requests taken from outside (Slack), remembered for their signature window.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taken_request",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_taken_request_taken_at", "taken_request", ["taken_at"])


def downgrade() -> None:
    op.drop_index("ix_taken_request_taken_at", "taken_request")
    op.drop_table("taken_request")
