"""share_rollups: per topic and hour, the shares of each post and the posts with each link (monitor.shares)

Revision ID: 0014_share_rollups
Revises: 0013_api_tokens
Create Date: 2026-12-01 13:45:00
"""
from alembic import op
import sqlalchemy as sa
import monitor.models
from monitor import shares


revision = "0014_share_rollups"
down_revision = "0013_api_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "share_rollups",
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("bucket", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=600), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "kind", "bucket", "platform", "ref", name=op.f("pk_share_rollups")),
    )
    shares.backfill(op.get_bind(), op.get_bind().dialect.name)


def downgrade() -> None:
    op.drop_table("share_rollups")
