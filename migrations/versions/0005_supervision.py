"""Worker supervision: state transitions, the current status row and restart requests.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 20:24:54.792864
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import watchdog.storage.types

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('worker_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=False),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('exit_kind', sa.String(length=16), nullable=True),
    sa.Column('exit_status', sa.Integer(), nullable=True),
    sa.Column('exit_signal', sa.Integer(), nullable=True),
    sa.Column('memory_bytes', sa.BigInteger(), nullable=True),
    sa.Column('delay_seconds', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_events'))
    )
    with op.batch_alter_table('worker_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_events_at'), ['at'], unique=False)

    op.create_table('worker_restart_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requested_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.Column('requested_by', sa.String(length=255), nullable=False),
    sa.Column('handled_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('accepted', sa.Boolean(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_restart_requests'))
    )
    with op.batch_alter_table('worker_restart_requests', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_worker_restart_requests_handled_at'), ['handled_at'], unique=False
        )

    op.create_table('worker_status',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('restarts', sa.Integer(), nullable=False),
    sa.Column('ready_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('next_start_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('health_url', sa.Text(), nullable=True),
    sa.Column('metrics_url', sa.Text(), nullable=True),
    sa.Column('last_exit_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('last_exit_kind', sa.String(length=16), nullable=True),
    sa.Column('last_exit_description', sa.Text(), nullable=True),
    sa.Column('last_exit_status', sa.Integer(), nullable=True),
    sa.Column('last_exit_signal', sa.Integer(), nullable=True),
    sa.Column('updated_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_status'))
    )


def downgrade() -> None:
    op.drop_table('worker_status')
    with op.batch_alter_table('worker_restart_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worker_restart_requests_handled_at'))

    op.drop_table('worker_restart_requests')
    with op.batch_alter_table('worker_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worker_events_at'))

    op.drop_table('worker_events')
