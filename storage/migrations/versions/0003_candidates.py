"""Candidates (tags cut for a release) and operations (side effects recorded before they happen).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "candidate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("rc", sa.Integer()),
        sa.Column("patch", sa.Integer()),
        sa.Column("build", sa.Integer()),
        sa.Column("tag", sa.String(200), nullable=False),
        sa.Column("commit_sha", sa.String(64)),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("notes", sa.String(20000)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("person.id")),
        sa.UniqueConstraint("release_id", "seq", name="uq_candidate_seq"),
        sa.UniqueConstraint("release_id", "tag", name="uq_candidate_tag"),
    )
    op.create_index("ix_candidate_release_id", "candidate", ["release_id"])
    op.create_table(
        "operation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id")),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("payload", sa.String(20000), nullable=False),
        sa.Column("result", sa.String(20000)),
        sa.Column("claimed_until", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(2000)),
    )
    op.create_index("ix_operation_release_id", "operation", ["release_id"])


def downgrade() -> None:
    op.drop_table("operation")
    op.drop_table("candidate")
