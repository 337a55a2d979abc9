"""Monthly alert counts by rule and outcome.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 20:59:16.446605
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
    op.create_table(
        "alert_monthly_counts",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "rule", "outcome", name=op.f("pk_alert_monthly_counts")),
    )


def downgrade() -> None:
    op.drop_table("alert_monthly_counts")
