"""This installation's own id (for globally unique calendar UIDs).

Revision ID: 0008
Revises: 0007
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uid", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    # Made here, once per database: every replica and every later start reads the same id.
    op.bulk_insert(table, [{"id": 1, "uid": uuid.uuid4().hex, "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("installation")
