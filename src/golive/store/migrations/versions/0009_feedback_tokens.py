"""Feedback tokens: the secret part of a run's public feedback link.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback_tokens",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_feedback_tokens"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_feedback_tokens_run_id_runs"),
    )


def downgrade() -> None:
    op.drop_table("feedback_tokens")
