"""influence: stored rankings per topic and window (runs, scores, communities)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:45:00
"""
from alembic import op
import sqlalchemy as sa
import monitor.models


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "influence_runs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("window_start", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("window_end", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("exclude_flagged", sa.Boolean(), nullable=False),
        sa.Column("computed_at", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("interactions", sa.Integer(), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("edges", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("previous_run_id", BigId, nullable=True),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_influence_runs")),
        sa.UniqueConstraint("topic", "platform", "window_start", "window_end", "exclude_flagged",
                            name="uq_influence_runs_window"),
    )
    with op.batch_alter_table("influence_runs", schema=None) as batch_op:
        batch_op.create_index("ix_influence_runs_lookup", ["topic", "platform", "exclude_flagged", "window_end"],
                              unique=False)

    op.create_table(
        "influence_scores",
        sa.Column("run_id", BigId, nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("previous_rank", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("pagerank", sa.Float(), nullable=False),
        sa.Column("in_degree", sa.Integer(), nullable=False),
        sa.Column("authority", sa.Float(), nullable=False),
        sa.Column("betweenness", sa.Float(), nullable=False),
        sa.Column("amplifiers", sa.Integer(), nullable=False),
        sa.Column("amplifications", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("community", sa.Integer(), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_influence_scores_account_id_accounts")),
        sa.ForeignKeyConstraint(["run_id"], ["influence_runs.id"], name=op.f("fk_influence_scores_run_id_influence_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "account_id", name=op.f("pk_influence_scores")),
    )
    with op.batch_alter_table("influence_scores", schema=None) as batch_op:
        batch_op.create_index("ix_influence_scores_rank", ["run_id", "rank"], unique=False)

    op.create_table(
        "influence_communities",
        sa.Column("run_id", BigId, nullable=False),
        sa.Column("community", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("top_accounts", sa.JSON(), nullable=True),
        sa.Column("hashtags", sa.JSON(), nullable=True),
        sa.Column("bridges", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["influence_runs.id"],
                                name=op.f("fk_influence_communities_run_id_influence_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "community", name=op.f("pk_influence_communities")),
    )


def downgrade() -> None:
    op.drop_table("influence_communities")
    with op.batch_alter_table("influence_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_influence_scores_rank")
    op.drop_table("influence_scores")
    with op.batch_alter_table("influence_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_influence_runs_lookup")
    op.drop_table("influence_runs")
