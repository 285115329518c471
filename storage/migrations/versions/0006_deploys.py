"""Deployments, simmers with health samples, CI deliveries, announcements.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), nullable=False),
        sa.Column("candidate_id", sa.Integer(), sa.ForeignKey("candidate.id"), nullable=False),
        sa.Column("environment", sa.String(60), nullable=False),
        sa.Column("operation_id", sa.String(200), nullable=False, unique=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("run_id", sa.String(200)),
        sa.Column("run_url", sa.String(1000)),
        sa.Column("log_url", sa.String(1000)),
        sa.Column("failure", sa.String(2000)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("person.id")),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("polled_at", UTCDateTime()),
        sa.Column("retire_at", UTCDateTime()),
        sa.Column("retire_operation_id", sa.String(200)),
        sa.Column("archive_url", sa.String(1000)),
        sa.Column("retired_at", UTCDateTime()),
    )
    op.create_index("ix_deployment_release_id", "deployment", ["release_id"])
    op.create_index(
        "uq_deployment_in_flight",
        "deployment",
        ["release_id", "environment"],
        unique=True,
        sqlite_where=sa.text("state IN ('pending', 'running')"),
        postgresql_where=sa.text("state IN ('pending', 'running')"),
    )
    op.create_table(
        "simmer",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), nullable=False),
        sa.Column("deployment_id", sa.Integer(), sa.ForeignKey("deployment.id"), nullable=False, unique=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("last_advance_at", UTCDateTime()),
        sa.Column("best_value", sa.Float()),
        sa.Column("sampled_at", UTCDateTime()),
        sa.Column("trouble", sa.String(1000)),
    )
    op.create_index("ix_simmer_release_id", "simmer", ["release_id"])
    op.create_table(
        "health_sample",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("simmer_id", sa.Integer(), sa.ForeignKey("simmer.id"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("value", sa.Float()),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(500)),
    )
    op.create_index("ix_health_sample_simmer_id", "health_sample", ["simmer_id"])
    op.create_table(
        "ci_delivery",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "announcement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("release.id"), nullable=False),
        sa.Column("text", sa.String(10000), nullable=False),
        sa.Column("channels", sa.String(2000), nullable=False),
        sa.Column("post_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("person.id")),
        sa.Column("corrections", sa.Integer(), nullable=False),
    )
    op.create_index("ix_announcement_release_id", "announcement", ["release_id"])


def downgrade() -> None:
    for table in ("announcement", "ci_delivery", "health_sample", "simmer", "deployment"):
        op.drop_table(table)
