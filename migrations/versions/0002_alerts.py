"""Alert engine: alert states, the outbox, per-target limits, silences and counters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 20:11:29.683287
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import watchdog.storage.types

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alert_counters',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_alert_counters'))
    )
    op.create_table('alert_outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dedup_key', sa.String(length=200), nullable=False),
    sa.Column('target', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('alert_count', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.Column('next_attempt_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claim_expires_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('slack_ts', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_outbox')),
    sa.UniqueConstraint('dedup_key', name=op.f('uq_alert_outbox_dedup_key'))
    )
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_alert_outbox_state_target', ['state', 'target', 'id'], unique=False)

    op.create_table('alert_silences',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('matchers', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.Column('ends_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.Column('expired_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('suppressed', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_silences'))
    )
    op.create_table('alert_states',
    sa.Column('fingerprint', sa.String(length=32), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('one_shot', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('pending_since', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('firing_since', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('resolved_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('last_seen_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.Column('episode', sa.Integer(), nullable=False),
    sa.Column('announced_episode', sa.Integer(), nullable=False),
    sa.Column('announced_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('resolved_announced_episode', sa.Integer(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('flapping', sa.Boolean(), nullable=False),
    sa.Column('flap_noticed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('fingerprint', name=op.f('pk_alert_states'))
    )
    with op.batch_alter_table('alert_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_states_state'), ['state'], unique=False)

    op.create_table('alert_targets',
    sa.Column('target', sa.String(length=100), nullable=False),
    sa.Column('next_send_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('channel_id', sa.String(length=40), nullable=True),
    sa.Column('window_start', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('window_sent', sa.Integer(), nullable=False),
    sa.Column('digest', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('target', name=op.f('pk_alert_targets'))
    )


def downgrade() -> None:
    op.drop_table('alert_targets')
    with op.batch_alter_table('alert_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_states_state'))

    op.drop_table('alert_states')
    op.drop_table('alert_silences')
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_outbox_state_target')

    op.drop_table('alert_outbox')
    op.drop_table('alert_counters')
