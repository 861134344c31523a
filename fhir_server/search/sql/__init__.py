"""The read side of search in SQL: predicates per parameter type, the query compiler, sorting and
paging, includes, and the conditional-write matcher. `dialect` holds the PostgreSQL/SQLite differences."""
