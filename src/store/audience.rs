//! Who is in a campaign: segment counts and lists, enrollment (pilots
//! included), exit rules, and each open passage's progress for the planner.

use super::*;

/// One step queued at once for every contact a tick just enrolled (see
/// [`AudienceStore::queue_entrants`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrantSends {
    pub campaign: String,
    /// Only enrollments with an id above this one (read before enrolling).
    pub after_enrollment: i64,
    /// Only enrollments that entered at this instant (the tick's `now`).
    pub entered_at: DateTime<Utc>,
    /// 0-based.
    pub step: u32,
    pub template: String,
    pub due_at: DateTime<Utc>,
}

pub trait AudienceStore: Send + Sync {
    /// How many contacts of the selection may enter the campaign now.
    /// `reentry_after`: `None` means a contact enters at most once; a cutoff
    /// lets in contacts whose last passage ended before it.
    fn count_entrants(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Enrolls every selected, unsuppressed contact that may enter (see `count_entrants`).
    fn enroll(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Contact ids of the selection that may enter the campaign now (see `count_entrants`).
    fn entrant_ids(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
    ) -> impl Future<Output = StoreResult<Vec<i64>>> + Send;

    /// Enrolls these contacts in their groups (skipping any already open).
    fn enroll_contacts(
        &self,
        campaign: &str,
        contacts: &[(i64, Group)],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Enrollments the campaign ever had (a pilot's sample so far).
    fn enrolled_count(&self, campaign: &str) -> impl Future<Output = StoreResult<u64>> + Send;

    /// How many unsuppressed contacts match the selection now, and how many
    /// of them never entered `campaign`, in one query.
    fn count_matching(
        &self,
        selection: &Selection,
        campaign: &str,
    ) -> impl Future<Output = StoreResult<(u64, u64)>> + Send;

    /// Up to `limit` unsuppressed matching contacts by email, each with the
    /// name of the first of `stages` it is in (precedence order).
    fn list_matching(
        &self,
        selection: &Selection,
        stages: &[(String, Cond)],
        limit: u64,
    ) -> impl Future<Output = StoreResult<Vec<(Contact, Option<String>)>>> + Send;

    /// Evaluates each condition for one contact, in one query.
    fn evaluate(
        &self,
        contact_id: i64,
        conds: &[Cond],
    ) -> impl Future<Output = StoreResult<Vec<bool>>> + Send;

    /// Whether the contact is suppressed and whether it ever entered the campaign.
    fn contact_status(
        &self,
        contact_id: i64,
        campaign: &str,
    ) -> impl Future<Output = StoreResult<(bool, bool)>> + Send;

    /// Up to `limit` unsuppressed contacts enrolled in the campaign or in its
    /// selection now, by id (for `tend preview --sample`).
    fn sample_contacts(
        &self,
        campaign: &str,
        selection: &Selection,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<Contact>>> + Send;

    /// Ends open passages by the campaign's exit rules; with `apply` false
    /// only counts them.
    fn exit_enrollments(
        &self,
        campaign: &str,
        rule: &ExitRule,
        now: DateTime<Utc>,
        apply: bool,
    ) -> impl Future<Output = StoreResult<ExitCounts>> + Send;

    /// Open enrollments of a campaign with their latest send.
    fn progress(
        &self,
        campaign: &str,
    ) -> impl Future<Output = StoreResult<Vec<EnrollmentProgress>>> + Send;

    /// A page of [`Self::progress`]: at most `limit` open enrollments with an
    /// id above `after` and at most `through`, in id order. The planner walks
    /// a campaign page by page so a list of millions is never in memory at
    /// once, and stops at `through` where the rows after it (this tick's
    /// entrants) were already decided.
    fn progress_page(
        &self,
        campaign: &str,
        after: i64,
        through: i64,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<EnrollmentProgress>>> + Send;

    /// The highest enrollment id so far (0 when there is none). Ids only
    /// grow, so what a tick enrolls afterwards lies above it.
    fn last_enrollment_id(&self) -> impl Future<Output = StoreResult<i64>> + Send;

    /// Queues `sends.step` for every open, treated (not holdout) enrollment
    /// of the campaign above `sends.after_enrollment` that entered at
    /// `sends.entered_at`, in one statement: the planner's set-based path
    /// for entrants whose first step is the same for everyone. An
    /// (enrollment, step) already queued is skipped. Returns rows created.
    fn queue_entrants(
        &self,
        sends: &EntrantSends,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    fn finish_enrollments(
        &self,
        finished: &[(i64, ExitReason)],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Enrolls (or, with `apply` false, counts) the contacts of the
    /// selection who may enter (see `count_entrants`) and did one of
    /// `trigger.kinds` (a link scanner's click never counts) so that its
    /// instant plus `trigger.delay` falls in (`trigger.after`, `trigger.until`].
    fn enroll_on_events(
        &self,
        campaign: &str,
        selection: &Selection,
        trigger: &EventTrigger,
        reentry_after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        apply: bool,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Contacts of the selection created on one of these days of the year
    /// (`MM-DD`, in UTC), with their creation instant and time zone: the
    /// caller decides whose anniversary it is in their own zone.
    fn anniversary_candidates(
        &self,
        selection: &Selection,
        days: &[String],
    ) -> impl Future<Output = StoreResult<Vec<Anniversary>>> + Send;

    /// Enrolls (or, with `apply` false, counts) those of these contacts who
    /// may enter (unsuppressed, by the re-entry rule).
    fn enroll_ids(
        &self,
        campaign: &str,
        ids: &[i64],
        reentry_after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        apply: bool,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}
