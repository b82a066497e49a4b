"""raw_batches: batches kept until stored, and quarantined ones

Revision ID: 0010_durable
Revises: 0010_influence
Create Date: 2026-12-01 09:10:00
"""
from alembic import op
import sqlalchemy as sa
import monitor.models


revision = "0010_durable"
down_revision = "0010_influence"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "raw_batches",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("sent_at", monitor.models.UTCDateTime(), nullable=True),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("stored_at", monitor.models.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_batches")),
    )
    op.create_index("ix_raw_batches_state_created", "raw_batches", ["state", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_raw_batches_state_created", table_name="raw_batches")
    op.drop_table("raw_batches")
