"""token and reference index statistics: target 250 instead of 1000 (PostgreSQL)

Revision ID: 0012
Revises: 0011

Migration 0002 gave the extended statistics of `search_token` and `search_reference` (the planner's
view of which parameter, code and system go together) a target of 1000. ANALYZE samples 300 rows per
unit of target, so every analysis of those tables read and sorted 300,000 rows: at 9.5 million token
rows `ANALYZE search_token` took 10.8 s (0.46 s at 100), and under the HL7 gateway benchmark one of
the analyses that autovacuum (or the server's own upkeep) runs as the tables grow took 20.8 s while
the feed ran. At 250 the two tables analyze in 3.7 s together (14.4 s at
1000) and the 1,000,000-resource search benchmark keeps its plans: the 2-level chain runs the same
plan in the same 21 ms; at 100 the `_has` search's plan got worse (database p95 8 ms → 32 ms).
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

STATISTICS = ("st_search_token", "st_search_reference")
TARGET = 250
PREVIOUS = 1000


def _set(target: int) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in STATISTICS:
        op.execute(f"ALTER STATISTICS {name} SET STATISTICS {target}")


def upgrade() -> None:
    _set(TARGET)


def downgrade() -> None:
    _set(PREVIOUS)
