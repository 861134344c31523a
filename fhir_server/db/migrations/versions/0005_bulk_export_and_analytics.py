"""bulk export jobs and the analytics encounter projection

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:00:00.000000

NOTE: developed against head 0004; `down_revision` must name the latest head when this lands.

- `bulk_exports`: one row per Bulk Data export (`$export`): who asked, the request, its
  transactionTime, and its committed progress (cursor and file positions) as JSON.
- `analytics_encounters`: one narrow row per Encounter (what in-hospital mortality counts),
  kept current by a change subscriber and rebuilt by the `analytics.rebuild` job.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('bulk_exports',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('request', sa.Text(), nullable=False),
    sa.Column('parameters', sa.Text(), nullable=False),
    sa.Column('transaction_time', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('slice', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulk_exports'))
    )
    op.create_index(op.f('ix_bulk_exports_owner'), 'bulk_exports', ['owner'], unique=False)
    op.create_table('analytics_encounters',
    sa.Column('resource_pk', PK, nullable=False),
    sa.Column('res_id', sa.String(length=64), nullable=False),
    sa.Column('inpatient', sa.Boolean(), nullable=False),
    sa.Column('period_start', sa.BigInteger(), nullable=True),
    sa.Column('period_end', sa.BigInteger(), nullable=True),
    sa.Column('discharge_month', sa.Integer(), nullable=True),
    sa.Column('expired', sa.Boolean(), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=True),
    sa.Column('death_low', sa.BigInteger(), nullable=True),
    sa.Column('death_high', sa.BigInteger(), nullable=True),
    sa.Column('attending', sa.String(length=140), nullable=True),
    sa.Column('department', sa.String(length=140), nullable=True),
    sa.Column('location', sa.String(length=140), nullable=True),
    sa.Column('condition_id', sa.String(length=64), nullable=True),
    sa.Column('dx_system', sa.String(length=255), nullable=True),
    sa.Column('dx_code', sa.String(length=255), nullable=True),
    sa.Column('dx_display', sa.String(length=255), nullable=True),
    sa.Column('reason_system', sa.String(length=255), nullable=True),
    sa.Column('reason_code', sa.String(length=255), nullable=True),
    sa.Column('reason_display', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['resource_pk'], ['resources.pk'], name=op.f('fk_analytics_encounters_resource_pk_resources')),
    sa.PrimaryKeyConstraint('resource_pk', name=op.f('pk_analytics_encounters'))
    )
    op.create_index(op.f('ix_analytics_encounters_inpatient_period_end'), 'analytics_encounters', ['inpatient', 'period_end'], unique=False)
    op.create_index(op.f('ix_analytics_encounters_patient_id'), 'analytics_encounters', ['patient_id'], unique=False)
    op.create_index(op.f('ix_analytics_encounters_condition_id'), 'analytics_encounters', ['condition_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_analytics_encounters_condition_id'), table_name='analytics_encounters')
    op.drop_index(op.f('ix_analytics_encounters_patient_id'), table_name='analytics_encounters')
    op.drop_index(op.f('ix_analytics_encounters_inpatient_period_end'), table_name='analytics_encounters')
    op.drop_table('analytics_encounters')
    op.drop_index(op.f('ix_bulk_exports_owner'), table_name='bulk_exports')
    op.drop_table('bulk_exports')
