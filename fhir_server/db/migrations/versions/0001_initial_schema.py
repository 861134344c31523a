"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 10:24:06.914332
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consumer_offsets',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_consumer_offsets'))
    )
    op.create_table('jobs',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('run_after', sa.BigInteger(), nullable=False),
    sa.Column('locked_by', sa.String(length=128), nullable=True),
    sa.Column('locked_until', sa.BigInteger(), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_jobs')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_jobs_dedupe_key'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_status_run_after'), ['status', 'run_after'], unique=False)

    op.create_table('outbox',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('res_id', sa.String(length=64), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_outbox'))
    )
    op.create_table('resources',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('res_id', sa.String(length=64), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('last_updated', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_resources')),
    sa.UniqueConstraint('res_type', 'res_id', name=op.f('uq_resources_res_type_res_id'))
    )
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resources_res_type_last_updated'), ['res_type', 'last_updated'], unique=False)

    op.create_table('resource_versions',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('res_id', sa.String(length=64), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('last_updated', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['resource_pk'], ['resources.pk'], name=op.f('fk_resource_versions_resource_pk_resources')),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_resource_versions')),
    sa.UniqueConstraint('res_type', 'res_id', 'version_id', name=op.f('uq_resource_versions_res_type_res_id_version_id'))
    )
    with op.batch_alter_table('resource_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_versions_last_updated'), ['last_updated'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_versions_res_type_last_updated'), ['res_type', 'last_updated'], unique=False)

    op.create_table('search_date',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('low', sa.BigInteger(), nullable=False),
    sa.Column('high', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['resource_pk'], ['resources.pk'], name=op.f('fk_search_date_resource_pk_resources')),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_search_date'))
    )
    with op.batch_alter_table('search_date', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_date_res_type_param_high'), ['res_type', 'param', 'high'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_date_res_type_param_low'), ['res_type', 'param', 'low'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_date_resource_pk'), ['resource_pk'], unique=False)

    op.create_table('search_number',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('low', sa.Float(), nullable=False),
    sa.Column('high', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['resource_pk'], ['resources.pk'], name=op.f('fk_search_number_resource_pk_resources')),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_search_number'))
    )
    with op.batch_alter_table('search_number', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_number_res_type_param_value'), ['res_type', 'param', 'value'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_number_resource_pk'), ['resource_pk'], unique=False)

    op.create_table('search_quantity',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('low', sa.Float(), nullable=False),
    sa.Column('high', sa.Float(), nullable=False),
    sa.Column('system', sa.String(length=255), nullable=True),
    sa.Column('code', sa.String(length=255), nullable=True),
    sa.Column('unit', sa.String(length=255), nullable=True),
    sa.Column('canonical_value', sa.Float(), nullable=True),
    sa.Column('canonical_code', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['resource_pk'], ['resources.pk'], name=op.f('fk_search_quantity_resource_pk_resources')),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_search_quantity'))
    )
    with op.batch_alter_table('search_quantity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_quantity_res_type_param_canonical_code_canonical_value'), ['res_type', 'param', 'canonical_code', 'canonical_value'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_quantity_res_type_param_code_value'), ['res_type', 'param', 'code', 'value'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_quantity_resource_pk'), ['resource_pk'], unique=False)

    op.create_table('search_reference',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=64), nullable=True),
    sa.Column('target_id', sa.String(length=64), nullable=True),
    sa.Column('target_version', sa.String(length=64), nullable=True),
    sa.Column('url', sa.String(length=1024), nullable=True),
    sa.ForeignKeyConstraint(['resource_pk'], ['resources.pk'], name=op.f('fk_search_reference_resource_pk_resources')),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_search_reference'))
    )
    with op.batch_alter_table('search_reference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_reference_res_type_param_target_id_target_type'), ['res_type', 'param', 'target_id', 'target_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_reference_res_type_param_url'), ['res_type', 'param', 'url'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_reference_resource_pk'), ['resource_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_reference_target_type_target_id'), ['target_type', 'target_id'], unique=False)

    op.create_table('search_string',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('value_norm', sa.String(length=255, collation='C').with_variant(sa.String(length=255), 'sqlite'), nullable=False),
    sa.Column('value_exact', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['resource_pk'], ['resources.pk'], name=op.f('fk_search_string_resource_pk_resources')),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_search_string'))
    )
    with op.batch_alter_table('search_string', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_string_res_type_param_value_norm'), ['res_type', 'param', 'value_norm'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_string_resource_pk'), ['resource_pk'], unique=False)

    op.create_table('search_token',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('system', sa.String(length=255), nullable=True),
    sa.Column('code', sa.String(length=255), nullable=True),
    sa.Column('text_norm', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['resource_pk'], ['resources.pk'], name=op.f('fk_search_token_resource_pk_resources')),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_search_token'))
    )
    with op.batch_alter_table('search_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_token_res_type_param_code_system'), ['res_type', 'param', 'code', 'system'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_token_res_type_param_system'), ['res_type', 'param', 'system'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_token_resource_pk'), ['resource_pk'], unique=False)

    op.create_table('search_uri',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=1024), nullable=False),
    sa.ForeignKeyConstraint(['resource_pk'], ['resources.pk'], name=op.f('fk_search_uri_resource_pk_resources')),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_search_uri'))
    )
    with op.batch_alter_table('search_uri', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_uri_res_type_param_value'), ['res_type', 'param', 'value'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_uri_resource_pk'), ['resource_pk'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('search_uri', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_uri_resource_pk'))
        batch_op.drop_index(batch_op.f('ix_search_uri_res_type_param_value'))

    op.drop_table('search_uri')
    with op.batch_alter_table('search_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_token_resource_pk'))
        batch_op.drop_index(batch_op.f('ix_search_token_res_type_param_system'))
        batch_op.drop_index(batch_op.f('ix_search_token_res_type_param_code_system'))

    op.drop_table('search_token')
    with op.batch_alter_table('search_string', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_string_resource_pk'))
        batch_op.drop_index(batch_op.f('ix_search_string_res_type_param_value_norm'))

    op.drop_table('search_string')
    with op.batch_alter_table('search_reference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_reference_target_type_target_id'))
        batch_op.drop_index(batch_op.f('ix_search_reference_resource_pk'))
        batch_op.drop_index(batch_op.f('ix_search_reference_res_type_param_url'))
        batch_op.drop_index(batch_op.f('ix_search_reference_res_type_param_target_id_target_type'))

    op.drop_table('search_reference')
    with op.batch_alter_table('search_quantity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_quantity_resource_pk'))
        batch_op.drop_index(batch_op.f('ix_search_quantity_res_type_param_code_value'))
        batch_op.drop_index(batch_op.f('ix_search_quantity_res_type_param_canonical_code_canonical_value'))

    op.drop_table('search_quantity')
    with op.batch_alter_table('search_number', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_number_resource_pk'))
        batch_op.drop_index(batch_op.f('ix_search_number_res_type_param_value'))

    op.drop_table('search_number')
    with op.batch_alter_table('search_date', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_date_resource_pk'))
        batch_op.drop_index(batch_op.f('ix_search_date_res_type_param_low'))
        batch_op.drop_index(batch_op.f('ix_search_date_res_type_param_high'))

    op.drop_table('search_date')
    with op.batch_alter_table('resource_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resource_versions_res_type_last_updated'))
        batch_op.drop_index(batch_op.f('ix_resource_versions_last_updated'))

    op.drop_table('resource_versions')
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resources_res_type_last_updated'))

    op.drop_table('resources')
    op.drop_table('outbox')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_status_run_after'))

    op.drop_table('jobs')
    op.drop_table('consumer_offsets')
