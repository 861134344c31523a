"""code-value-quantity and code-value-concept: no index rows of their own

Revision ID: 0018
Revises: 0017

These Observation composites take their element to be the Observation itself, and each of their
components selects exactly the values of a plain parameter: code-value-quantity is code and
value-quantity, code-value-concept is code and value-concept. The search registry finds such
composites in the definitions (`SearchParam.component_params`), and a search asks those parameters'
rows of one Observation. The composites' own rows (a token row per coding and a quantity row per
Observation with a value, two of every lab result's index rows) are no longer written. This removes
the rows already written; a downgrade writes them again from the plain parameters' rows of the
Observations having both components, as element 0, as extraction did.
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# (composite, its components: (table, the plain parameter whose rows it holds))
COMPOSITES = (
    ("code-value-quantity", (("search_token", "code"), ("search_quantity", "value-quantity"))),
    ("code-value-concept", (("search_token", "code"), ("search_token", "value-concept"))),
)
COLUMNS = {
    "search_token": ("system", "code", "text_norm"),
    "search_quantity": ("value", "low", "high", "system", "code", "unit", "canonical_value", "canonical_code"),
}


def upgrade() -> None:
    for composite, components in COMPOSITES:
        for index, (table, _) in enumerate(components):
            op.execute(f"DELETE FROM {table} WHERE res_type = 'Observation' AND param = '{composite}${index}'")


def downgrade() -> None:
    for composite, components in COMPOSITES:
        for index, (table, param) in enumerate(components):
            columns = ", ".join(COLUMNS[table])
            others = " AND ".join(
                f"EXISTS (SELECT 1 FROM {other_table} o WHERE o.resource_pk = r.resource_pk "
                f"AND o.res_type = 'Observation' AND o.param = '{other_param}')"
                for other_index, (other_table, other_param) in enumerate(components) if other_index != index)
            op.execute(
                f"INSERT INTO {table} (resource_pk, res_type, param, {columns}, element) "
                f"SELECT resource_pk, res_type, '{composite}${index}', {columns}, 0 FROM {table} r "
                f"WHERE res_type = 'Observation' AND param = '{param}' AND {others}")
