"""briefings: the weekly briefing's archive and its review history

Revision ID: 0010_briefing
Revises: 0012_influence
Create Date: 2026-12-01 09:30:00
"""
from alembic import op
import sqlalchemy as sa
import monitor.models


revision = "0010_briefing"
down_revision = "0012_influence"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "briefings",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("week_start", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("week_end", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("edits", sa.JSON(), nullable=True),
        sa.Column("topics", sa.JSON(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("built_at", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("built_by", sa.String(length=128), nullable=False),
        sa.Column("edited_at", monitor.models.UTCDateTime(), nullable=True),
        sa.Column("edited_by", sa.String(length=128), nullable=True),
        sa.Column("approved_at", monitor.models.UTCDateTime(), nullable=True),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("sent_at", monitor.models.UTCDateTime(), nullable=True),
        sa.Column("sent_by", sa.String(length=128), nullable=True),
        sa.Column("sent_to", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_briefings")),
        sa.UniqueConstraint("week", "revision", name="uq_briefings_week_revision"),
    )
    op.create_index("ix_briefings_week", "briefings", ["week", "revision"], unique=False)
    op.create_table(
        "briefing_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("briefing_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["briefing_id"], ["briefings.id"], name=op.f("fk_briefing_events_briefing_id_briefings"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_briefing_events")),
    )
    op.create_index("ix_briefing_events_briefing", "briefing_events", ["briefing_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_briefing_events_briefing", table_name="briefing_events")
    op.drop_table("briefing_events")
    op.drop_index("ix_briefings_week", table_name="briefings")
    op.drop_table("briefings")
