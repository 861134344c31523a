"""search_reference.url and search_token.system: their indexes keep only the rows with a value

Revision ID: 0019
Revises: 0018

A reference row has a `url` only for an absolute or canonical reference; a local one (`Patient/123`,
nearly all of a clinical data set) is `target_type` and `target_id`. A token row has no `system` for
a plain `code` element (status, gender) or a CodeableConcept's text. Searches ask these two indexes
for a url or a system only (`subject=http://...`, `code=http://loinc.org|`), so the rows without one
were index entries no search reads, written for every reference and token row: a fifth of the
reference table's. The indexes are now partial (`WHERE url IS NOT NULL`, `WHERE system IS NOT
NULL`); PostgreSQL builds each CONCURRENTLY before dropping the old one, so searches keep an index.
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# (index, table, key columns, the column whose rows it keeps)
INDEXES = (
    ("ix_search_reference_res_type_param_url", "search_reference", "res_type, param, url", "url"),
    ("ix_search_token_res_type_param_system", "search_token", "res_type, param, system", "system"),
)


def _rebuild(partial: bool) -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table, columns, sparse in INDEXES:
        where = f" WHERE {sparse} IS NOT NULL" if partial else ""
        if not postgresql:
            op.execute(f'DROP INDEX IF EXISTS "{name}"')
            op.execute(f'CREATE INDEX "{name}" ON {table} ({columns}){where}')
            continue
        built = f"{name}_new"
        with op.get_context().autocommit_block():
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{built}"')  # left by an interrupted run
            op.execute(f'CREATE INDEX CONCURRENTLY "{built}" ON {table} ({columns}) INCLUDE (resource_pk){where}')
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
            op.execute(f'ALTER INDEX "{built}" RENAME TO "{name}"')


def upgrade() -> None:
    _rebuild(partial=True)


def downgrade() -> None:
    _rebuild(partial=False)
