"""influence_jobs: a ranking being computed off the request path, claimed by one process (influence.jobs)

Revision ID: 0015_influence_jobs
Revises: 0014_share_rollups
Create Date: 2026-12-01 15:40:00
"""
from alembic import op
import sqlalchemy as sa
import monitor.models


revision = "0015_influence_jobs"
down_revision = "0014_share_rollups"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "influence_jobs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("window_start", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("window_end", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("exclude_flagged", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=False),
        sa.Column("finished_at", monitor.models.UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_influence_jobs")),
        sa.UniqueConstraint("topic", "platform", "window_start", "window_end", "exclude_flagged",
                            name="uq_influence_jobs_window"),
    )


def downgrade() -> None:
    op.drop_table("influence_jobs")
