"""Spend tracking: daily costs, EstimatedCharges readings, baselines, raised alerts, request counts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 20:15:05.286225
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import watchdog.storage.types

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('spend_api_requests',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('operation', sa.String(length=60), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'operation', name=op.f('pk_spend_api_requests'))
    )
    op.create_table('spend_baseline_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('amount', watchdog.storage.types.Money(length=40), nullable=False),
    sa.Column('set_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spend_baseline_override'))
    )
    op.create_table('spend_baselines',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('amount', watchdog.storage.types.Money(length=40), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('months', sa.JSON(), nullable=False),
    sa.Column('computed_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_spend_baselines'))
    )
    op.create_table('spend_daily_costs',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('service', sa.String(length=200), nullable=False),
    sa.Column('record_type', sa.String(length=60), nullable=False),
    sa.Column('amount', watchdog.storage.types.Money(length=40), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('estimated', sa.Boolean(), nullable=False),
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('fetched_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.PrimaryKeyConstraint('day', 'service', 'record_type', name=op.f('pk_spend_daily_costs'))
    )
    op.create_table('spend_estimated_charges',
    sa.Column('at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.Column('amount', watchdog.storage.types.Money(length=40), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('fetched_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.PrimaryKeyConstraint('at', name=op.f('pk_spend_estimated_charges'))
    )
    with op.batch_alter_table('spend_estimated_charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spend_estimated_charges_month'), ['month'], unique=False)

    op.create_table('spend_fired_thresholds',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('level', sa.String(length=40), nullable=False),
    sa.Column('threshold', watchdog.storage.types.Money(length=40), nullable=False),
    sa.Column('observed', watchdog.storage.types.Money(length=40), nullable=False),
    sa.Column('estimate', sa.Boolean(), nullable=False),
    sa.Column('fired_at', watchdog.storage.types.UtcDateTime(length=32), nullable=False),
    sa.Column('handed_over_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('event', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'kind', 'level', name=op.f('pk_spend_fired_thresholds'))
    )
    op.create_table('spend_sources',
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('last_attempt_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('last_success_at', watchdog.storage.types.UtcDateTime(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('history_from', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('source', name=op.f('pk_spend_sources'))
    )


def downgrade() -> None:
    op.drop_table('spend_sources')
    op.drop_table('spend_fired_thresholds')
    with op.batch_alter_table('spend_estimated_charges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spend_estimated_charges_month'))

    op.drop_table('spend_estimated_charges')
    op.drop_table('spend_daily_costs')
    op.drop_table('spend_baselines')
    op.drop_table('spend_baseline_override')
    op.drop_table('spend_api_requests')
