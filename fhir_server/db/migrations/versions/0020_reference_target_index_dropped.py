"""search_reference: the index on (target_type, target_id) goes

Revision ID: 0020
Revises: 0019

Every search for the resources referring to a target names the referring types and parameters: a
reference search (`Observation?subject=Patient/1`), a chain, `_has`, a compartment (its definition
lists them) and `_revinclude` (`*` is expanded from the registry to the reference parameters that
can point at the page's types). Those are served by `ix_search_reference_target_resource` (res_type,
param, target_id, target_type, resource_pk). The index starting with the target was read by the
compartment and by `_revinclude=*` alone, and was written for every reference row — a random
insertion (the target id) into the largest index of the largest index table; a bulk load of a
hundred thousand resources went 5–7% faster without it.
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

NAME = "ix_search_reference_target_type_target_id"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute(f'DROP INDEX IF EXISTS "{NAME}"')
        return
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{NAME}"')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute(f'CREATE INDEX IF NOT EXISTS "{NAME}" ON search_reference (target_type, target_id)')
        return
    with op.get_context().autocommit_block():
        op.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{NAME}" ON search_reference (target_type, target_id) '
                   'INCLUDE (resource_pk)')
