"""auth: accounts, OAuth clients, grants, codes, refresh tokens, launch contexts, signing keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:42:42.811324

The tables of `fhir_server.db.auth_tables` (SMART on FHIR authorization server).
NOTE: developed against head 0002; `down_revision` must name the revision this lands after.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auth_accounts',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('fhir_user', sa.String(length=255), nullable=True),
    sa.Column('supervisor', sa.String(length=255), nullable=True),
    sa.Column('tenure_end_at', sa.BigInteger(), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('totp_secret', sa.LargeBinary(), nullable=True),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_auth_accounts')),
    sa.UniqueConstraint('username', name=op.f('uq_auth_accounts_username'))
    )
    op.create_table('auth_clients',
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('auth_method', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.Text(), nullable=True),
    sa.Column('jwks', sa.Text(), nullable=True),
    sa.Column('jwks_uri', sa.String(length=1024), nullable=True),
    sa.Column('redirect_uris', sa.Text(), nullable=False),
    sa.Column('scopes', sa.Text(), nullable=False),
    sa.Column('grant_types', sa.Text(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_auth_clients'))
    )
    op.create_table('auth_codes',
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('redirect_uri', sa.String(length=1024), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('code_challenge', sa.String(length=128), nullable=False),
    sa.Column('code_challenge_method', sa.String(length=8), nullable=False),
    sa.Column('nonce', sa.String(length=255), nullable=True),
    sa.Column('auth_time', sa.BigInteger(), nullable=False),
    sa.Column('patient', sa.String(length=64), nullable=True),
    sa.Column('encounter', sa.String(length=64), nullable=True),
    sa.Column('need_patient_banner', sa.Boolean(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('used', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_auth_codes'))
    )
    with op.batch_alter_table('auth_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_codes_expires_at'), ['expires_at'], unique=False)

    op.create_table('auth_grants',
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('grant_id', name=op.f('pk_auth_grants'))
    )
    with op.batch_alter_table('auth_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_grants_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_grants_client_id'), ['client_id'], unique=False)

    op.create_table('auth_launch_contexts',
    sa.Column('launch_id', sa.String(length=64), nullable=False),
    sa.Column('patient', sa.String(length=64), nullable=True),
    sa.Column('encounter', sa.String(length=64), nullable=True),
    sa.Column('need_patient_banner', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('used', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('launch_id', name=op.f('pk_auth_launch_contexts'))
    )
    op.create_table('auth_pending',
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('browser_hash', sa.String(length=64), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('auth_time', sa.BigInteger(), nullable=True),
    sa.Column('patient', sa.String(length=64), nullable=True),
    sa.Column('encounter', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_auth_pending'))
    )
    with op.batch_alter_table('auth_pending', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_pending_expires_at'), ['expires_at'], unique=False)

    op.create_table('auth_refresh_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('patient', sa.String(length=64), nullable=True),
    sa.Column('encounter', sa.String(length=64), nullable=True),
    sa.Column('need_patient_banner', sa.Boolean(), nullable=False),
    sa.Column('auth_time', sa.BigInteger(), nullable=False),
    sa.Column('issued_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('rotated', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_auth_refresh_tokens'))
    )
    with op.batch_alter_table('auth_refresh_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_refresh_tokens_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_refresh_tokens_grant_id'), ['grant_id'], unique=False)

    op.create_table('auth_reset_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('used', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_auth_reset_tokens'))
    )
    op.create_table('auth_signing_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('alg', sa.String(length=16), nullable=False),
    sa.Column('private_key', sa.LargeBinary(), nullable=False),
    sa.Column('public_jwk', sa.Text(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('retired_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_auth_signing_keys'))
    )


    op.create_table('auth_revocations',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('until', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_auth_revocations'))
    )
    with op.batch_alter_table('auth_revocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_revocations_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_revocations_until'), ['until'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('auth_revocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_revocations_until'))
        batch_op.drop_index(batch_op.f('ix_auth_revocations_created_at'))

    op.drop_table('auth_revocations')
    op.drop_table('auth_signing_keys')
    op.drop_table('auth_reset_tokens')
    with op.batch_alter_table('auth_refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_refresh_tokens_grant_id'))
        batch_op.drop_index(batch_op.f('ix_auth_refresh_tokens_expires_at'))

    op.drop_table('auth_refresh_tokens')
    with op.batch_alter_table('auth_pending', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_pending_expires_at'))

    op.drop_table('auth_pending')
    op.drop_table('auth_launch_contexts')
    with op.batch_alter_table('auth_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_grants_client_id'))
        batch_op.drop_index(batch_op.f('ix_auth_grants_account_id'))

    op.drop_table('auth_grants')
    with op.batch_alter_table('auth_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_codes_expires_at'))

    op.drop_table('auth_codes')
    op.drop_table('auth_clients')
    op.drop_table('auth_accounts')
