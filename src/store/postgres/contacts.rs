//! TEMPORARY stub

use super::*;

impl ContactStore for PostgresStore {
    async fn upsert_contacts(
        &self,
        _rows: &[NewContact],
        _now: DateTime<Utc>,
    ) -> StoreResult<UpsertCounts> {
        unimplemented!("postgres upsert_contacts")
    }

    async fn contact_by_email(&self, _email: &EmailAddress) -> StoreResult<Option<Contact>> {
        unimplemented!("postgres contact_by_email")
    }

    async fn contact_by_id(&self, _id: i64) -> StoreResult<Option<Contact>> {
        unimplemented!("postgres contact_by_id")
    }

    async fn record_events(
        &self,
        _rows: &[NewEvent],
        _now: DateTime<Utc>,
    ) -> StoreResult<EventCounts> {
        unimplemented!("postgres record_events")
    }

    async fn record_click(&self, _click: &NewClick) -> StoreResult<()> {
        unimplemented!("postgres record_click")
    }

    async fn add_suppression(
        &self,
        _suppression: &NewSuppression,
        _now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        unimplemented!("postgres add_suppression")
    }

    async fn remove_suppression(&self, _value: &str) -> StoreResult<bool> {
        unimplemented!("postgres remove_suppression")
    }

    async fn list_suppressions(&self) -> StoreResult<Vec<Suppression>> {
        unimplemented!("postgres list_suppressions")
    }

    async fn unsubscribe(
        &self,
        _request: &Unsubscribe,
        _now: DateTime<Utc>,
    ) -> StoreResult<UnsubscribeResult> {
        unimplemented!("postgres unsubscribe")
    }

    async fn attribute_types(&self) -> StoreResult<Vec<(String, Option<AttrType>)>> {
        unimplemented!("postgres attribute_types")
    }

    async fn contact_zones(&self) -> StoreResult<Vec<Option<String>>> {
        unimplemented!("postgres contact_zones")
    }
}
