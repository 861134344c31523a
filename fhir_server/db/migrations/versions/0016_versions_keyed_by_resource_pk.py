"""resource_versions: unique on (resource_pk, version_id) instead of (res_type, res_id, version_id)

Revision ID: 0016
Revises: 0015

A version is one of its resource's: (resource_pk, version_id) is as unique as (res_type, res_id,
version_id), since a resource's pk stands for its type and id. The old key starts with the random
resource id, so every new version wrote an index row at a random place of a b-tree as large as the
table; the new one starts with the pk the `resources` sequence hands out in order, so new resources
append at its end and a resource's versions sit together. Reads by type and id (vread, an instance's
history) go through the resource's pk. PostgreSQL builds the new index CONCURRENTLY and makes it the
constraint; SQLite rebuilds the table.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLE = "resource_versions"
OLD = ("uq_resource_versions_res_type_res_id_version_id", ["res_type", "res_id", "version_id"])
NEW = ("uq_resource_versions_resource_pk_version_id", ["resource_pk", "version_id"])


def _replace(drop: tuple[str, list[str]], add: tuple[str, list[str]]) -> None:
    (dropped, _), (added, columns) = drop, add
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(TABLE, recreate="always") as batch:
            batch.drop_constraint(dropped, type_="unique")
            batch.create_unique_constraint(added, columns)
        return
    built = f"{added}_new"
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{built}"')  # left by an interrupted run
        op.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{built}" ON {TABLE} ({", ".join(columns)})')
    op.execute(f'ALTER TABLE {TABLE} DROP CONSTRAINT "{dropped}", ADD CONSTRAINT "{added}" UNIQUE USING INDEX "{built}"')


def upgrade() -> None:
    _replace(OLD, NEW)


def downgrade() -> None:
    _replace(NEW, OLD)
