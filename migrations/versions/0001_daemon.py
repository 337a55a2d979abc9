"""Daemon runs and job runs.

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-04 20:02:23.691562
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import watchdog.storage.types

revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('daemon_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('host_name', sa.String(length=255), nullable=False),
    sa.Column('started_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.Column('stopped_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('embedded', sa.Boolean(), nullable=False),
    sa.Column('endpoints', sa.JSON(), nullable=False),
    sa.Column('status_line', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daemon_runs'))
    )
    op.create_table('job_runs',
    sa.Column('job_id', sa.String(length=100), nullable=False),
    sa.Column('last_started_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('last_finished_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('last_duration_seconds', sa.Double(), nullable=True),
    sa.Column('last_outcome', sa.String(length=20), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_job_runs'))
    )


def downgrade() -> None:
    op.drop_table('job_runs')
    op.drop_table('daemon_runs')
