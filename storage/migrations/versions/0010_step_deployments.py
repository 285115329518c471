"""Post-deploy checklist items belong to their deployment.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite adds a column with a foreign key by rebuilding the table.
    with op.batch_alter_table("checklist_item") as batch:
        batch.add_column(sa.Column("deployment_id", sa.Integer()))
        batch.create_foreign_key("fk_checklist_item_deployment_id", "deployment", ["deployment_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("checklist_item") as batch:
        batch.drop_constraint("fk_checklist_item_deployment_id", type_="foreignkey")
        batch.drop_column("deployment_id")
