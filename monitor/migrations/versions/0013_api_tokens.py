"""api_tokens: tokens other tools use the dashboard's JSON API with (hashed, one role each)

Revision ID: 0013_api_tokens
Revises: 0010_briefing
Create Date: 2026-12-01 12:05:00
"""
from alembic import op
import sqlalchemy as sa
import monitor.models


revision = "0013_api_tokens"
down_revision = "0010_briefing"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=48), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", monitor.models.UTCDateTime(), nullable=True),
        sa.Column("last_used_at", monitor.models.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", monitor.models.UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        sa.UniqueConstraint("name", name="uq_api_tokens_name"),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
