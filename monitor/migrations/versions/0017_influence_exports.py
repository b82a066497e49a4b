"""influence_exports: an influence run's export file (GEXF, GraphML, CSV), built once off the request path
(influence.export_jobs) and kept until the run is pruned

Revision ID: 0017_influence_exports
Revises: 0016_text_sig
Create Date: 2026-12-01 16:40:00
"""
from alembic import op
import sqlalchemy as sa
import monitor.models


revision = "0017_influence_exports"
down_revision = "0016_text_sig"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "influence_exports",
        sa.Column("run_id", BigId, nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=False),
        sa.Column("finished_at", monitor.models.UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("edges", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["influence_runs.id"], name=op.f("fk_influence_exports_run_id_influence_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "format", name=op.f("pk_influence_exports")),
    )


def downgrade() -> None:
    op.drop_table("influence_exports")
