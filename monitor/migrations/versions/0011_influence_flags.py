"""influence: automation and coordination per run (flagged accounts, rings, boosted accounts, coordinated posts)

Revision ID: 0011_influence
Revises: 0010_durable
Create Date: 2026-12-01 09:30:00
"""
from alembic import op
import sqlalchemy as sa
import monitor.models


revision = "0011_influence"
down_revision = "0010_durable"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("influence_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("boosted", sa.JSON(), nullable=True))
    op.create_table(
        "influence_flags",
        sa.Column("run_id", BigId, nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("ring", sa.Integer(), nullable=True),
        sa.Column("signals", sa.JSON(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("boosted_share", sa.Float(), nullable=True),
        sa.Column("boosted_by", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_influence_flags_account_id_accounts")),
        sa.ForeignKeyConstraint(["run_id"], ["influence_runs.id"], name=op.f("fk_influence_flags_run_id_influence_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "account_id", name=op.f("pk_influence_flags")),
    )
    with op.batch_alter_table("influence_flags", schema=None) as batch_op:
        batch_op.create_index("ix_influence_flags_ring", ["run_id", "ring"], unique=False)
    op.create_table(
        "influence_flagged_posts",
        sa.Column("run_id", BigId, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("platform_id", sa.String(length=255), nullable=False),
        sa.Column("ring", sa.Integer(), nullable=False),
        sa.Column("account_id", BigId, nullable=True),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("bursts", sa.Integer(), nullable=False),
        sa.Column("first_at", monitor.models.UTCDateTime(), nullable=False),
        sa.Column("last_at", monitor.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["influence_runs.id"],
                                name=op.f("fk_influence_flagged_posts_run_id_influence_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "platform", "platform_id", "ring", name=op.f("pk_influence_flagged_posts")),
    )


def downgrade() -> None:
    op.drop_table("influence_flagged_posts")
    with op.batch_alter_table("influence_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_influence_flags_ring")
    op.drop_table("influence_flags")
    with op.batch_alter_table("influence_scores", schema=None) as batch_op:
        batch_op.drop_column("boosted")
