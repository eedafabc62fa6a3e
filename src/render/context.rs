//! What templates see: `contact`, `campaign`, `step`, `now`.

use crate::catalog::{Campaign, Locale};
use crate::config::LifecycleSettings;
use crate::domain::{Attributes, Contact};
use crate::segment::stage_of;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The contact as templates see it. `first_name` is empty when the name
/// field holds no usable first name (see [`super::names::first_name`]):
/// greet with `{{ "Hi" | salute }}` or test `{% if contact.first_name %}`.
#[derive(Debug, Clone, Serialize)]
pub struct ContactView {
    pub email: String,
    pub name: String,
    pub first_name: String,
    pub tags: Vec<String>,
    pub attributes: Attributes,
    /// `new`, `active`, `sleeping`, `lost`, or empty when between stages.
    pub stage: String,
    pub created_at: String,
    pub last_activity_at: Option<String>,
    pub timezone: String,
    /// The language this message is written in (`en`, `de`, `es`): the
    /// template's, which is the contact's own when a version in it exists.
    pub locale: Locale,
}

#[derive(Debug, Serialize)]
struct CampaignView<'a> {
    id: &'a str,
    description: &'a str,
}

#[derive(Debug, Serialize)]
struct StepView<'a> {
    /// 1-based position in the sequence.
    number: usize,
    count: usize,
    template: &'a str,
}

/// The owned view; the renderer serializes [`ContactRef`], which the test
/// below holds to the same JSON.
#[cfg(test)]
pub fn contact_view(
    contact: &Contact,
    lifecycle: &LifecycleSettings,
    now: DateTime<Utc>,
    locale: Locale,
) -> ContactView {
    ContactView {
        email: contact.email.clone(),
        name: contact.name.clone().unwrap_or_default(),
        first_name: super::names::first_name(contact.name.as_deref()).unwrap_or_default(),
        locale,
        tags: contact.tags.clone(),
        attributes: contact.attributes.clone(),
        stage: stage_of(contact.created_at, contact.last_activity_at, lifecycle, now)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        created_at: contact.created_at.to_rfc3339(),
        last_activity_at: contact.last_activity_at.map(|t| t.to_rfc3339()),
        timezone: contact.timezone.clone().unwrap_or_else(|| "UTC".into()),
    }
}

/// What `contact` serializes to, borrowed from the contact: the same fields
/// in the same order as [`ContactView`] (templates cannot tell them apart),
/// without copying the contact first.
#[derive(Serialize)]
struct ContactRef<'a> {
    email: &'a str,
    name: &'a str,
    first_name: &'a str,
    tags: &'a [String],
    attributes: &'a Attributes,
    stage: String,
    created_at: String,
    last_activity_at: Option<String>,
    timezone: &'a str,
    locale: Locale,
}

fn contact_ref<'a>(
    contact: &'a Contact,
    lifecycle: &LifecycleSettings,
    now: DateTime<Utc>,
    locale: Locale,
    first_name: Option<&'a str>,
) -> ContactRef<'a> {
    ContactRef {
        email: &contact.email,
        name: contact.name.as_deref().unwrap_or_default(),
        first_name: first_name.unwrap_or_default(),
        tags: &contact.tags,
        attributes: &contact.attributes,
        stage: stage_of(contact.created_at, contact.last_activity_at, lifecycle, now)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        created_at: contact.created_at.to_rfc3339(),
        last_activity_at: contact.last_activity_at.map(|t| t.to_rfc3339()),
        timezone: contact.timezone.as_deref().unwrap_or("UTC"),
        locale,
    }
}

/// `first_name`: [`super::names::first_name`] of the contact's name, which
/// the renderer works out once for the context and its helpers.
pub fn build(
    campaign: &Campaign,
    step: usize,
    contact: &Contact,
    lifecycle: &LifecycleSettings,
    now: DateTime<Utc>,
    locale: Locale,
    first_name: Option<&str>,
) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert(
        "contact",
        &contact_ref(contact, lifecycle, now, locale, first_name),
    );
    ctx.insert(
        "campaign",
        &CampaignView {
            id: &campaign.id,
            description: &campaign.description,
        },
    );
    ctx.insert(
        "step",
        &StepView {
            number: step + 1,
            count: campaign.steps.len(),
            template: &campaign.steps[step].template,
        },
    );
    ctx.insert("now", &now.to_rfc3339());
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_borrowed_contact_serializes_exactly_like_the_contact_view() {
        let now: DateTime<Utc> = "2026-03-10T10:00:00Z".parse().unwrap();
        let lifecycle = LifecycleSettings::default();
        let mut attributes = Attributes::new();
        attributes.insert("plan".into(), "pro".into());
        for (name, activity, zone) in [
            (
                Some("Ana María López"),
                Some(now - chrono::Duration::days(40)),
                Some("Europe/Berlin"),
            ),
            (None, None, None),
        ] {
            let contact = Contact {
                id: 7,
                email: "ana@example.com".into(),
                name: name.map(str::to_string),
                created_at: now - chrono::Duration::days(400),
                last_activity_at: activity,
                timezone: zone.map(str::to_string),
                tags: vec!["customer".into(), "vip".into()],
                attributes: attributes.clone(),
            };
            let first = super::super::names::first_name(contact.name.as_deref());
            let view = contact_view(&contact, &lifecycle, now, Locale::De);
            let borrowed = contact_ref(&contact, &lifecycle, now, Locale::De, first.as_deref());
            assert_eq!(
                serde_json::to_string(&view).unwrap(),
                serde_json::to_string(&borrowed).unwrap()
            );
        }
    }
}
