"""combo-code-value-quantity and combo-code-value-concept: no index rows of their own

Revision ID: 0014
Revises: 0013

These two Observation composites select the elements `Observation | Observation.component`: exactly
those of code-value-quantity (or code-value-concept) and of its component- counterpart, with the same
components. The search registry finds such unions in the definitions (`SearchParam.union_of`); they are
searched through the composites they unite, and their rows — a token and a quantity or token row per
element, in the two largest index tables — are no longer written. This removes the rows already
written; a downgrade writes them again from those of the composites they unite (the resource's own
element first, numbered 0, then its components from 1).
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# (union, the composite of the resource's own element, the one of its components, table of each component)
UNIONS = (
    ("combo-code-value-quantity", "code-value-quantity", "component-code-value-quantity",
     ("search_token", "search_quantity")),
    ("combo-code-value-concept", "code-value-concept", "component-code-value-concept",
     ("search_token", "search_token")),
)
COLUMNS = {
    "search_token": ("system", "code", "text_norm"),
    "search_quantity": ("value", "low", "high", "system", "code", "unit", "canonical_value", "canonical_code"),
}


def upgrade() -> None:
    for union, _, _, tables in UNIONS:
        for index, table in enumerate(tables):
            op.execute(f"DELETE FROM {table} WHERE res_type = 'Observation' AND param = '{union}${index}'")


def downgrade() -> None:
    for union, own, components, tables in UNIONS:
        for index, table in enumerate(tables):
            columns = ", ".join(COLUMNS[table])
            for source, shift in ((own, 0), (components, 1)):
                op.execute(
                    f"INSERT INTO {table} (resource_pk, res_type, param, {columns}, element) "
                    f"SELECT resource_pk, res_type, '{union}${index}', {columns}, element + {shift} FROM {table} "
                    f"WHERE res_type = 'Observation' AND param = '{source}${index}' ORDER BY pk")
