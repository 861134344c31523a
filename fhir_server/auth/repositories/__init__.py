"""SQL of the authorization server's tables, one module per group. Functions take the unit of work's
driver (`Tx.db`), run `$1`-placeholder SQL on PostgreSQL and SQLite alike, and never commit."""

# the tables these modules query, registered on the shared metadata (Alembic, test truncation)
import fhir_server.db.auth_tables  # noqa: F401
from fhir_server.auth.repositories import accounts, clients, grants, keys, sessions

__all__ = ["accounts", "clients", "grants", "keys", "sessions"]
