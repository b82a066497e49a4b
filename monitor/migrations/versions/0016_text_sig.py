"""posts.text_sig: each post's text signature for the near-duplicate search (monitor.textsig), back-filled

Revision ID: 0016_text_sig
Revises: 0015_influence_jobs
Create Date: 2026-12-01 15:40:00
"""
from alembic import op
import sqlalchemy as sa
from monitor import textsig


revision = "0016_text_sig"
down_revision = "0015_influence_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("text_sig", sa.LargeBinary(), nullable=True))
    textsig.backfill(op.get_bind(), op.get_bind().dialect.name)


def downgrade() -> None:
    op.execute("ALTER TABLE posts DROP COLUMN text_sig")  # SQLite 3.35+ and PostgreSQL: no table copy
