//! Who-is-in queries on PostgreSQL (count, list, explain).
