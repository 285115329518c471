"""Local CI runs: who runs each one, its heartbeat and its result, for every process to read.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "local_run",
        sa.Column("operation_id", sa.String(200), primary_key=True),
        sa.Column("pipeline", sa.String(20), nullable=False),
        sa.Column("owner_pid", sa.Integer(), nullable=False),
        sa.Column("owner_host", sa.String(255), nullable=False),
        sa.Column("owner_token", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("step", sa.String(20)),
        sa.Column("exit_code", sa.Integer()),
        sa.Column("output", sa.String(2000)),
        sa.Column("archive", sa.String(1000)),
    )


def downgrade() -> None:
    op.drop_table("local_run")
