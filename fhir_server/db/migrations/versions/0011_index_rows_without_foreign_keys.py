"""index and history rows: no foreign keys to `resources`

Revision ID: 0011
Revises: 0010

`resource_versions.resource_pk` and `search_*.resource_pk` lose their foreign keys. Those rows are
written only by the write path (`storage/batch.py`, `storage/bulk_load.py`) in the statement that
writes their `resources` row, and `resources` rows are never deleted (a delete is a version), so the
check could never fail; it cost a lookup and a row lock on `resources` for every index row, about
two fifths of PostgreSQL's time per write (an ORU^R01 of 5 results: 7.0-8.3 ms of statement time
with them, 4.2-5.1 ms without). SQLite rebuilds the tables to drop them.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLES = ("resource_versions", "search_string", "search_token", "search_date", "search_number", "search_quantity",
          "search_reference", "search_uri")


def _name(table: str) -> str:
    return f"fk_{table}_resource_pk_resources"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        if sqlite:
            with op.batch_alter_table(table, recreate="always") as batch:
                batch.drop_constraint(_name(table), type_="foreignkey")
        else:
            op.drop_constraint(_name(table), table, type_="foreignkey")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        if sqlite:
            with op.batch_alter_table(table, recreate="always") as batch:
                batch.create_foreign_key(_name(table), "resources", ["resource_pk"], ["pk"])
        else:
            op.create_foreign_key(_name(table), table, "resources", ["resource_pk"], ["pk"])
