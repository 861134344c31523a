"""inbox of received messages (HL7 v2)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox_messages",
        sa.Column("pk", PK, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("sender", sa.String(length=512), nullable=False),
        sa.Column("control_id", sa.String(length=255), nullable=True),
        sa.Column("peer", sa.String(length=255), nullable=False),
        sa.Column("message_type", sa.String(length=64), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_inbox_messages")),
    )
    op.create_index(op.f("ix_inbox_messages_channel_sender_control_id"), "inbox_messages",
                    ["channel", "sender", "control_id"])
    op.create_index(op.f("ix_inbox_messages_channel_status_pk"), "inbox_messages", ["channel", "status", "pk"])


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_messages_channel_status_pk"), table_name="inbox_messages")
    op.drop_index(op.f("ix_inbox_messages_channel_sender_control_id"), table_name="inbox_messages")
    op.drop_table("inbox_messages")
