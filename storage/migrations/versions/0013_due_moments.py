"""The next due moment of each simmer, indexed with its state, and milestones by date: a tick reads
only what is due.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("simmer", sa.Column("due_at", UTCDateTime(), nullable=True))
    op.create_index("ix_simmer_due", "simmer", ["state", "due_at"])
    op.create_index("ix_milestone_due", "milestone", ["due"])


def downgrade() -> None:
    op.drop_index("ix_milestone_due", "milestone")
    op.drop_index("ix_simmer_due", "simmer")
    with op.batch_alter_table("simmer") as batch:
        batch.drop_column("due_at")
