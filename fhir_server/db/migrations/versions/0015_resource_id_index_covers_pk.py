"""resources: one index on (res_type, res_id), unique and covering pk and deleted (PostgreSQL)

Revision ID: 0015
Revises: 0014

`resources` had two indexes on the same key: the unique constraint's, and
`ix_resources_res_type_res_id_pk` INCLUDE (pk, deleted) for index-only id -> pk lookups (chains,
`_has`, the importer's "which of these exist"). Resource ids are random, so every new resource wrote
one row at a random place of each; once they outgrow the buffer cache, each costs a page read and,
after a checkpoint, a full page image in the WAL. The constraint's index now covers (pk, deleted)
itself and the other is dropped. The covering index is built CONCURRENTLY, then takes the
constraint's place, so writes keep their uniqueness check throughout. SQLite keeps its one unique
index, which leads to the row by rowid already.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CONSTRAINT = "uq_resources_res_type_res_id"
COVERING = "ix_resources_res_type_res_id_pk"


def _swap_constraint(include: str) -> None:
    """Build the unique index on (res_type, res_id) with `include` under a new name, then make it the
    constraint's, in place of the old one."""
    built = f"{CONSTRAINT}_new"
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{built}"')  # left by an interrupted run
        op.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{built}" ON resources (res_type, res_id){include}')
    op.execute(f'ALTER TABLE resources DROP CONSTRAINT "{CONSTRAINT}", '
               f'ADD CONSTRAINT "{CONSTRAINT}" UNIQUE USING INDEX "{built}"')


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _swap_constraint(" INCLUDE (pk, deleted)")
    op.execute(f'DROP INDEX IF EXISTS "{COVERING}"')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{COVERING}"')
        op.execute(f'CREATE INDEX CONCURRENTLY "{COVERING}" ON resources (res_type, res_id) INCLUDE (pk, deleted)')
    _swap_constraint("")
