"""`_text` and `_content` words: one `search_text` row per resource instead of one string row per word

Revision ID: 0013
Revises: 0012

A resource's `_content` words (10 to 64 of them) were as many `search_string` rows, each kept in
three b-trees: two fifths of all the index rows of a clinical data set (607,103 of 1.57 million for
56,057 resources of the demo set) and about 80 of the 250 index rows of a lab result message. They
become one `search_text` row per resource and parameter with the words joined by spaces. PostgreSQL
finds word prefixes through a GIN index of the words as a tsvector; SQLite reads the type's rows
(indexed by type and parameter). The rows already written move over.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

PARAMS = "('_text', '_content')"
_PG_MOVE = ("INSERT INTO search_text (resource_pk, res_type, param, words) "
            "SELECT resource_pk, res_type, param, string_agg(value_norm, ' ' ORDER BY pk) FROM search_string "
            f"WHERE param IN {PARAMS} GROUP BY resource_pk, res_type, param ORDER BY resource_pk")
_SQLITE_MOVE = ("INSERT INTO search_text (resource_pk, res_type, param, words) "
                "SELECT resource_pk, res_type, param, group_concat(value_norm, ' ') FROM "
                f"(SELECT * FROM search_string WHERE param IN {PARAMS} ORDER BY pk) "
                "GROUP BY resource_pk, res_type, param ORDER BY resource_pk")
_PG_MOVE_BACK = ("INSERT INTO search_string (resource_pk, res_type, param, value_norm, value_exact) "
                 "SELECT resource_pk, res_type, param, word, word FROM search_text, "
                 "unnest(string_to_array(words, ' ')) AS word ORDER BY search_text.pk")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "search_text",
        sa.Column("pk", key, autoincrement=True, nullable=False),
        sa.Column("resource_pk", key, nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("element", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_search_text")),
    )
    op.create_index("ix_search_text_resource_pk", "search_text", ["resource_pk"])
    op.execute(_PG_MOVE if postgresql else _SQLITE_MOVE)
    op.execute(f"DELETE FROM search_string WHERE param IN {PARAMS}")
    if postgresql:
        op.execute("CREATE INDEX ix_search_text_words ON search_text "
                   "USING gin (array_to_tsvector(string_to_array(words, ' ')))")
        op.execute("ANALYZE search_text")
    else:
        op.create_index("ix_search_text_res_type_param", "search_text", ["res_type", "param"])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(_PG_MOVE_BACK)
    else:
        rows = bind.execute(sa.text("SELECT resource_pk, res_type, param, words FROM search_text ORDER BY pk"))
        insert = sa.text("INSERT INTO search_string (resource_pk, res_type, param, value_norm, value_exact) "
                         "VALUES (:pk, :res_type, :param, :word, :word)")
        for resource_pk, res_type, param, words in rows.fetchall():
            bind.execute(insert, [{"pk": resource_pk, "res_type": res_type, "param": param, "word": word}
                                  for word in words.split()])
    op.drop_table("search_text")
