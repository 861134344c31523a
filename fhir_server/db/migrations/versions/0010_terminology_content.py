"""terminology content shipped with the server, loaded at migrate time

Revision ID: 0010
Revises: 0009

The tables only: `fhir-server migrate` (`migrate.upgrade`) fills them after the migrations, from
`terminology/data`, and brings them up to date with each release (`db/terminology_content.py`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "terminology_content",
        sa.Column("pk", PK, autoincrement=True, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_terminology_content")),
    )
    op.create_table(
        "terminology_release",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("resources", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_terminology_release")),
    )


def downgrade() -> None:
    op.drop_table("terminology_release")
    op.drop_table("terminology_content")
