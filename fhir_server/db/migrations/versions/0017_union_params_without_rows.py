"""combo-code, combo-value-quantity, combo-value-concept, combo-data-absent-reason: no index rows of their own

Revision ID: 0017
Revises: 0016

These Observation parameters select `Observation.x | Observation.component.x`: exactly the elements of
two others of their type (combo-code: code and component-code). As for the composites of 0014, the
search registry finds such unions in the definitions (`SearchParam.union_of`) and searches and sorts
ask the rows of the parameters they unite; theirs — a fifth of an Observation's index rows, among
them a quantity row at a random place of two indexes — are no longer written. This removes the rows
already written; a downgrade writes them again from those of the parameters they unite, once per
distinct value, as extraction did.
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# (union, table, the parameters it unites)
UNIONS = (
    ("combo-code", "search_token", ("code", "component-code")),
    ("combo-value-concept", "search_token", ("value-concept", "component-value-concept")),
    ("combo-data-absent-reason", "search_token", ("data-absent-reason", "component-data-absent-reason")),
    ("combo-value-quantity", "search_quantity", ("value-quantity", "component-value-quantity")),
)
COLUMNS = {
    "search_token": ("system", "code", "text_norm"),
    "search_quantity": ("value", "low", "high", "system", "code", "unit", "canonical_value", "canonical_code"),
}


def upgrade() -> None:
    for union, table, _ in UNIONS:
        op.execute(f"DELETE FROM {table} WHERE res_type = 'Observation' AND param = '{union}'")


def downgrade() -> None:
    for union, table, sources in UNIONS:
        columns = ", ".join(COLUMNS[table])
        listed = ", ".join(f"'{source}'" for source in sources)
        op.execute(
            f"INSERT INTO {table} (resource_pk, res_type, param, {columns}) "
            f"SELECT DISTINCT resource_pk, res_type, '{union}', {columns} FROM {table} "
            f"WHERE res_type = 'Observation' AND param IN ({listed})")
