//! Variation history queries on PostgreSQL.
