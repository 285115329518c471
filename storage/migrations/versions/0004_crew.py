"""The crew: roster, seats, away periods, and pages with their escalation state.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roster_member",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("project.id"), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.Column("left_at", UTCDateTime()),
        sa.Column("source", sa.String(20), nullable=False),
    )
    op.create_index("ix_roster_member_project_id", "roster_member", ["project_id"])
    op.create_index(
        "uq_roster_active",
        "roster_member",
        ["project_id", "person_id"],
        unique=True,
        sqlite_where=sa.text("left_at IS NULL"),
        postgresql_where=sa.text("left_at IS NULL"),
    )
    op.create_table(
        "crew_seat",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("assigned_at", UTCDateTime(), nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), sa.ForeignKey("person.id")),
        sa.Column("ended_at", UTCDateTime()),
        sa.Column("note", sa.String(1000)),
    )
    op.create_index("ix_crew_seat_release_id", "crew_seat", ["release_id"])
    op.create_index(
        "uq_crew_active_role",
        "crew_seat",
        ["release_id", "role"],
        unique=True,
        sqlite_where=sa.text("state = 'active' AND role != 'jumpseat'"),
        postgresql_where=sa.text("state = 'active' AND role != 'jumpseat'"),
    )
    op.create_table(
        "away",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_away_person_id", "away", ["person_id"])
    op.create_table(
        "page",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), nullable=False),
        sa.Column("message", sa.String(2000), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("next_step_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("person.id")),
        sa.Column("acknowledged_at", UTCDateTime()),
        sa.Column("acknowledged_by_id", sa.Integer(), sa.ForeignKey("person.id")),
    )
    op.create_index("ix_page_release_id", "page", ["release_id"])
    op.create_index("ix_page_due", "page", ["state", "next_step_at"])


def downgrade() -> None:
    for table in ("page", "away", "crew_seat", "roster_member"):
        op.drop_table(table)
