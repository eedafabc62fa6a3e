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
struct StepView {
    /// 1-based position in the sequence.
    number: usize,
    count: usize,
    template: String,
}

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

pub fn build(
    campaign: &Campaign,
    step: usize,
    contact: &Contact,
    lifecycle: &LifecycleSettings,
    now: DateTime<Utc>,
    locale: Locale,
) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("contact", &contact_view(contact, lifecycle, now, locale));
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
            template: campaign.steps[step].template.clone(),
        },
    );
    ctx.insert("now", &now.to_rfc3339());
    ctx
}
