"""What the CI says of the commit a candidate is cut from ("Tests pass on the commit").

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "commit_check",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("detail", sa.String(2000), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_commit_check_release_id", "commit_check", ["release_id"])


def downgrade() -> None:
    op.drop_index("ix_commit_check_release_id", "commit_check")
    op.drop_table("commit_check")
