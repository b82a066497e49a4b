"""influence: what sets each stored community apart (distinctive hashtags, words, domains, accounts)

Revision ID: 0012_influence
Revises: 0010_dash
Create Date: 2026-12-01 09:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0012_influence"
down_revision = "0010_dash"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("influence_communities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("features", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("influence_communities", schema=None) as batch_op:
        batch_op.drop_column("features")
