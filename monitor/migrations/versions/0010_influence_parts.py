"""influence: each stored score keeps its parts in points (measures count from their floor)

Revision ID: 0010_influence
Revises: 0003
Create Date: 2026-12-01 09:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0010_influence"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("influence_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("influence_scores", schema=None) as batch_op:
        batch_op.drop_column("parts")
