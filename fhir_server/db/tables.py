"""The database schema: current resources, every version, the search indexes, the outbox and the job queue.

Times are stored as integer microseconds since the Unix epoch (UTC) so ordering and range tests are
plain integer comparisons on PostgreSQL and SQLite alike. Every search index row carries the
resource's `res_type` and the parameter `code` so one composite index answers each predicate.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    text,
)

# SQLite only autoincrements an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT for a million-row store.
PrimaryKey = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

resources = Table(
    "resources",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    # the current version's JSON, AES-256-GCM sealed; NULL once deleted
    Column("body", LargeBinary, nullable=True),
    # type + id -> pk without reading the row (chains, `_has`, the importer's "which exist"); INCLUDE
    # on PostgreSQL only, SQLite's index leads to the row by rowid (migration 0015)
    UniqueConstraint("res_type", "res_id", postgresql_include=["pk", "deleted"]),
    Index(None, "res_type", "last_updated"),
    # the live resources of a type in pk order without touching the bodies (index-only on PostgreSQL):
    # first pages, counts and `pk IN (...)` joins of searches
    Index("ix_resources_res_type_pk", "res_type", "pk", postgresql_include=["deleted", "res_id"]),
    # the few deleted resources of a type, which a count taken from index rows subtracts
    Index("ix_resources_deleted", "res_type", "pk", postgresql_where=text("deleted"), sqlite_where=text("deleted")),
)

resource_versions = Table(
    "resource_versions",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    # no foreign key: written only with its `resources` row, which is never deleted (migration 0011)
    Column("resource_pk", PrimaryKey, nullable=False),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    # the interaction that wrote this version: POST, PUT, PATCH or DELETE (history entry.request.method)
    Column("method", String(8), nullable=False),
    Column("body", LargeBinary, nullable=True),
    # the pk first, not the random id: new resources' versions append at the index's end (migration 0016)
    UniqueConstraint("resource_pk", "version_id"),
    Index(None, "last_updated"),
    Index(None, "res_type", "last_updated"),
)


def _index_table(name: str, *columns: Column, indexes: tuple[tuple[str, ...], ...],
                 include: dict[str, tuple[str, ...]] | None = None, sparse: tuple[str, ...] = ()) -> Table:
    """An index table; each value index also covers `resource_pk` (INCLUDE, PostgreSQL), plus the
    columns `include` names for the index whose last key column it is, so searches are index-only.
    The index whose last key column is `sparse` (mostly NULL, searched only for a value) keeps only
    the rows having one."""
    table = Table(
        name,
        metadata,
        # no key of their own (migration 0022): nothing names one index row, and a key cost every row a
        # sequence number and a b-tree entry (on SQLite the rowid serves)
        # no foreign key, as for resource_versions: a check per index row cost as much as the row
        Column("resource_pk", PrimaryKey, nullable=False),
        Column("res_type", String(64), nullable=False),
        Column("param", String(64), nullable=False),
        *columns,
        # the element a composite parameter's component row belongs to (`code-value-quantity$1`
        # rows of one Observation.component share it); NULL for every other row
        Column("element", Integer, nullable=True),
        Index(None, "resource_pk"),
    )
    for cols in indexes:
        # an entry may start with its name (`ix_...`) where the conventional one would be too long
        name, cols = (cols[0], cols[1:]) if cols[0].startswith("ix_") else (None, cols)
        covered = [] if "resource_pk" in cols else ["resource_pk"]
        covered += [c for c in (include or {}).get(cols[-1], ()) if c not in cols]
        where = text(f"{cols[-1]} IS NOT NULL") if cols[-1] in sparse else None
        Index(name, *(table.c[c] for c in cols), postgresql_include=covered, postgresql_where=where,
              sqlite_where=where)
    return table


search_string = _index_table(
    "search_string",
    # lower-cased, accents and punctuation folded: what plain `name=` matches as a prefix. Byte order
    # ("C") on PostgreSQL, so `LIKE 'x%'` can use the btree index whatever the database's collation
    Column("value_norm", String(255, collation="C").with_variant(String(255), "sqlite"), nullable=False),
    Column("value_exact", Text, nullable=False),
    indexes=(("res_type", "param", "value_norm"),),
)

search_token = _index_table(
    "search_token",
    Column("system", String(255), nullable=True),
    Column("code", String(255), nullable=True),
    # display / text, normalised like strings, for `:text`
    Column("text_norm", String(255), nullable=True),
    # resource_pk last: for one code the rows come in resource order, so a first page (ORDER BY pk
    # LIMIT n) stops after n matches instead of collecting every resource with the code
    # (system covered, not a key: `code=x` without a system must keep the resource order too)
    indexes=(("res_type", "param", "code", "resource_pk"), ("res_type", "param", "system")),
    include={"resource_pk": ("system",)},
    sparse=("system",),  # a plain code (status, gender) and a text have none (migration 0019)
)

search_date = _index_table(
    "search_date",
    # the instant range the value covers, in microseconds since the epoch (inclusive)
    Column("low", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
    indexes=(("res_type", "param", "low"), ("res_type", "param", "high")),
    include={"low": ("high",), "high": ("low",)},
)

search_number = _index_table(
    "search_number",
    Column("value", Float, nullable=False),
    # the range implied by the value's precision: 100 covers [99.5, 100.5)
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    indexes=(("res_type", "param", "value"),),
)

search_quantity = _index_table(
    "search_quantity",
    Column("value", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("system", String(255), nullable=True),
    Column("code", String(255), nullable=True),
    Column("unit", String(255), nullable=True),
    # the value converted to UCUM base units, when the unit is UCUM and convertible
    Column("canonical_value", Float, nullable=True),
    Column("canonical_code", String(255), nullable=True),
    indexes=(("res_type", "param", "code", "value"), ("res_type", "param", "canonical_code", "canonical_value")),
)

search_reference = _index_table(
    "search_reference",
    # a local reference `Patient/123` is stored as target_type + target_id; anything else as url
    Column("target_type", String(64), nullable=True),
    Column("target_id", String(64), nullable=True),
    Column("target_version", String(64), nullable=True),
    Column("url", String(1024), nullable=True),
    # every search for a target names the referring types and parameters (a compartment, `_revinclude=*`
    # included: they list them from the registry), so no index starts with the target (migration 0020)
    indexes=(("ix_search_reference_target_resource", "res_type", "param", "target_id", "target_type", "resource_pk"),
             ("res_type", "param", "url")),
    sparse=("url",),  # only absolute and canonical references have one (migration 0019)
)

search_uri = _index_table(
    "search_uri",
    Column("value", String(1024), nullable=False),
    indexes=(("res_type", "param", "value"),),
)

# `_text` and `_content` (`fhir_server.search.content`): one row per resource and parameter, its
# distinct normalised words joined by single spaces. PostgreSQL finds word prefixes through a GIN
# index of those words as a tsvector (`search.sql.dialect.word_prefixes`); SQLite reads the type's
# rows. A resource's ~10-60 words were as many rows of `search_string`, each kept in three b-trees:
# two fifths of all index rows of a clinical data set
search_text = _index_table(
    "search_text",
    Column("words", Text, nullable=False),
    indexes=(),
)


def words_vector(words: ColumnElement[str]) -> ColumnElement[Any]:
    """A `search_text.words` column as the tsvector PostgreSQL's GIN index holds (a query must use
    this very expression for the index to answer it)."""
    return func.array_to_tsvector(func.string_to_array(words, literal_column("' '")))


Index("ix_search_text_words", words_vector(search_text.c.words), postgresql_using="gin").ddl_if(dialect="postgresql")
Index("ix_search_text_res_type_param", search_text.c.res_type, search_text.c.param).ddl_if(dialect="sqlite")

SEARCH_INDEX_TABLES = {
    "string": search_string,
    "token": search_token,
    "date": search_date,
    "number": search_number,
    "quantity": search_quantity,
    "reference": search_reference,
    "uri": search_uri,
    "text": search_text,
}

# One row per committed change of a resource, written in the same transaction as the change;
# subscribers (the AI pipeline's triggers, notifications) consume it in order of pk.
outbox = Table(
    "outbox",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    Column("created_at", BigInteger, nullable=False),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("action", String(8), nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("run_after", BigInteger, nullable=False),
    Column("locked_by", String(128), nullable=True),
    Column("locked_until", BigInteger, nullable=True),
    Column("result", Text, nullable=True),
    Column("dedupe_key", String(255), nullable=True, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index(None, "status", "run_after"),
)

# Named cursors of background consumers (outbox readers): how far each has read.
consumer_offsets = Table(
    "consumer_offsets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# The terminology content the server ships (`terminology/data`: the R4 CodeSystems, ValueSets and
# ConceptMaps, the LOINC, SNOMED CT and ICD-10 fragments), loaded by `fhir-server migrate` (see
# `terminology_content.py`) and read by every process at start. One row per (res_type, url, version);
# `position` keeps the shipped order, which decides the default among several versions of one url.
# Not sealed: it is published reference content, never patient data.
terminology_content = Table(
    "terminology_content",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    Column("position", Integer, nullable=False),
    Column("res_type", String(64), nullable=False),
    Column("url", String(1024), nullable=False),
    Column("version", String(255), nullable=True),
    # SHA-256 (hex) of the JSON before compression
    Column("digest", String(64), nullable=False),
    # the resource's JSON, zlib-compressed
    Column("body", LargeBinary, nullable=False),
)

# Which release of that content `terminology_content` holds (`terminology.content.release()`) and how
# many rows it has: at most one row.
terminology_release = Table(
    "terminology_release",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("resources", Integer, nullable=False),
    Column("loaded_at", BigInteger, nullable=False),
)
