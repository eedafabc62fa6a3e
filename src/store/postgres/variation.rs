//! Variation history queries on PostgreSQL. TEMPORARY stub (pg-read branch).

use super::*;

impl PostgresStore {
    pub(super) async fn history_rows(
        &self,
        _contact_id: i64,
        _before_send: Option<i64>,
    ) -> StoreResult<Vec<PastSend>> {
        unimplemented!("postgres history_rows")
    }
}
