"""Metrics spool, minute rollups, counters and state.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:13:23.083221
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import watchdog.storage.types

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_counters",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "name", name=op.f("pk_metric_counters")),
    )
    op.create_table(
        "metric_rollups",
        sa.Column("minute", watchdog.storage.types.UtcDateTime(length=32), nullable=False),
        sa.Column("windows", sa.Integer(), nullable=False),
        sa.Column("worker_up_windows", sa.Integer(), nullable=False),
        sa.Column("request_count", sa.BigInteger(), nullable=False),
        sa.Column("error_count", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.JSON(), nullable=False),
        sa.Column("p50_ms", sa.Double(), nullable=True),
        sa.Column("p99_ms", sa.Double(), nullable=True),
        sa.Column("max_queue_depth", sa.Double(), nullable=True),
        sa.Column("max_in_flight", sa.Double(), nullable=True),
        sa.Column("max_memory_rss", sa.BigInteger(), nullable=True),
        sa.Column("max_memory_per_request", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("minute", name=op.f("pk_metric_rollups")),
    )
    op.create_table(
        "metric_spool",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_start", watchdog.storage.types.UtcDateTime(length=32), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("spooled_at", watchdog.storage.types.UtcDateTime(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_spool")),
    )
    with op.batch_alter_table("metric_spool", schema=None) as batch_op:
        batch_op.create_index(
            "ix_metric_spool_state_window_start", ["state", "window_start"], unique=False
        )

    op.create_table(
        "metric_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("updated_at", watchdog.storage.types.UtcDateTime(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_metric_state")),
    )


def downgrade() -> None:
    op.drop_table("metric_state")
    with op.batch_alter_table("metric_spool", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_spool_state_window_start")

    op.drop_table("metric_spool")
    op.drop_table("metric_rollups")
    op.drop_table("metric_counters")
