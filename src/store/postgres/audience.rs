//! TEMPORARY stub

use super::*;

impl AudienceStore for PostgresStore {
    async fn count_entrants(
        &self,
        _campaign: &str,
        _selection: &Selection,
        _reentry_after: Option<DateTime<Utc>>,
    ) -> StoreResult<u64> {
        unimplemented!("postgres count_entrants")
    }

    async fn enroll(
        &self,
        _campaign: &str,
        _selection: &Selection,
        _reentry_after: Option<DateTime<Utc>>,
        _now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        unimplemented!("postgres enroll")
    }

    async fn entrant_ids(
        &self,
        _campaign: &str,
        _selection: &Selection,
        _reentry_after: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<i64>> {
        unimplemented!("postgres entrant_ids")
    }

    async fn enroll_contacts(
        &self,
        _campaign: &str,
        _contacts: &[(i64, Group)],
        _now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        unimplemented!("postgres enroll_contacts")
    }

    async fn enrolled_count(&self, _campaign: &str) -> StoreResult<u64> {
        unimplemented!("postgres enrolled_count")
    }

    async fn count_matching(
        &self,
        _selection: &Selection,
        _campaign: &str,
    ) -> StoreResult<(u64, u64)> {
        unimplemented!("postgres count_matching")
    }

    async fn list_matching(
        &self,
        _selection: &Selection,
        _stages: &[(String, Cond)],
        _limit: u64,
    ) -> StoreResult<Vec<(Contact, Option<String>)>> {
        unimplemented!("postgres list_matching")
    }

    async fn evaluate(&self, _contact_id: i64, _conds: &[Cond]) -> StoreResult<Vec<bool>> {
        unimplemented!("postgres evaluate")
    }

    async fn contact_status(&self, _contact_id: i64, _campaign: &str) -> StoreResult<(bool, bool)> {
        unimplemented!("postgres contact_status")
    }

    async fn sample_contacts(
        &self,
        _campaign: &str,
        _selection: &Selection,
        _limit: u32,
    ) -> StoreResult<Vec<Contact>> {
        unimplemented!("postgres sample_contacts")
    }

    async fn exit_enrollments(
        &self,
        _campaign: &str,
        _rule: &ExitRule,
        _now: DateTime<Utc>,
        _apply: bool,
    ) -> StoreResult<ExitCounts> {
        unimplemented!("postgres exit_enrollments")
    }

    async fn progress(&self, _campaign: &str) -> StoreResult<Vec<EnrollmentProgress>> {
        unimplemented!("postgres progress")
    }

    async fn finish_enrollments(
        &self,
        _finished: &[(i64, ExitReason)],
        _now: DateTime<Utc>,
    ) -> StoreResult<()> {
        unimplemented!("postgres finish_enrollments")
    }
}
