"""Scope with acceptance tests and results, the checklist, milestones; the release's freeze and issue.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("release", sa.Column("scope_frozen_at", UTCDateTime()))
    op.add_column("release", sa.Column("issue_number", sa.Integer()))
    op.add_column("release", sa.Column("issue_url", sa.String(1000)))
    op.add_column("release", sa.Column("issue_body", sa.String(20000)))
    op.create_table(
        "feature",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("tests", sa.String(2000), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), sa.ForeignKey("person.id")),
        sa.Column("removed_at", UTCDateTime()),
        sa.Column("removed_by_id", sa.Integer(), sa.ForeignKey("person.id")),
        sa.Column("override", sa.String(1000)),
        sa.Column("reason", sa.String(1000)),
    )
    op.create_index("ix_feature_release_id", "feature", ["release_id"])
    op.create_table(
        "test_result",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("candidate_id", sa.Integer(), sa.ForeignKey("candidate.id"), nullable=False),
        sa.Column("test", sa.String(500), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), sa.ForeignKey("person.id")),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("url", sa.String(1000)),
    )
    op.create_index("ix_test_result_candidate_id", "test_result", ["candidate_id"])
    op.create_table(
        "checklist_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("before", sa.String(10)),
        sa.Column("auto", sa.String(40)),
        sa.Column("checked_at", UTCDateTime()),
        sa.Column("checked_by_id", sa.Integer(), sa.ForeignKey("person.id")),
        sa.Column("checked_via", sa.String(40)),
        sa.UniqueConstraint("release_id", "seq", name="uq_checklist_seq"),
    )
    op.create_index("ix_checklist_item_release_id", "checklist_item", ["release_id"])
    op.create_table(
        "milestone",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), nullable=False),
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("person.id")),
        sa.UniqueConstraint("release_id", "name", name="uq_milestone_name"),
    )
    op.create_index("ix_milestone_release_id", "milestone", ["release_id"])


def downgrade() -> None:
    for table in ("milestone", "checklist_item", "test_result", "feature"):
        op.drop_table(table)
    with op.batch_alter_table("release") as batch:
        for column in ("issue_body", "issue_url", "issue_number", "scope_frozen_at"):
            batch.drop_column(column)
