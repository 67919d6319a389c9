"""Accounts bound to persons per go-live, disabled users.

A person id means something only in one go-live's plan (two plans may both have a person
`own`), so the link of a user to a person now names the go-live (`person_links`). A link made
before (`users.person`, no go-live) is bound here when the store has runs of exactly one
go-live: then it can only have meant that one. Otherwise it stays in `users.person`, unbound,
and grants nothing until `golive user link NAME --person ID --plan GOLIVE` binds it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    links = op.create_table(
        "person_links",
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("plan_id", sa.Text(), nullable=False),
        sa.Column("person", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_name", "plan_id", name="pk_person_links"),
        sa.ForeignKeyConstraint(
            ["user_name"], ["users.name"], name="fk_person_links_user_name_users"
        ),
    )
    connection = op.get_bind()
    plan_ids = connection.execute(sa.text("SELECT DISTINCT plan_id FROM runs")).scalars().all()
    if len(plan_ids) != 1:
        return  # no go-live, or several: an old link could mean any of them, so none
    users = connection.execute(
        sa.text("SELECT name, person FROM users WHERE person IS NOT NULL")
    ).all()
    if users:
        op.bulk_insert(
            links, [{"user_name": n, "plan_id": plan_ids[0], "person": p} for n, p in users]
        )
        connection.execute(sa.text("UPDATE users SET person = NULL"))


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT user_name, person FROM person_links")).all()
    for name, person in rows:  # one of the links survives; the old schema holds one
        connection.execute(
            sa.text("UPDATE users SET person = :person WHERE name = :name AND person IS NULL"),
            {"person": person, "name": name},
        )
    op.drop_table("person_links")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled")
