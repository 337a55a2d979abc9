"""Months whose summary was queued.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:34:56.502792
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import watchdog.storage.types

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monthly_reports",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("queued_at", watchdog.storage.types.UtcDateTime(length=32), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_monthly_reports")),
    )


def downgrade() -> None:
    op.drop_table("monthly_reports")
