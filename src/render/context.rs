//! What templates see: `contact`, `campaign`, `step`, `now`.

use crate::catalog::Campaign;
use crate::config::LifecycleSettings;
use crate::domain::{Attributes, Contact};
use crate::segment::stage_of;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The contact as templates see it. Missing data has a graceful form:
/// `first_name` is "there" when no usable name exists ("Hi there,").
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

/// The greeting name: the first word of `name`, unless the name is missing
/// or is really an email address (CRMs often copy the address into it).
pub fn first_name(name: Option<&str>) -> String {
    name.map(str::trim)
        .filter(|n| !n.is_empty() && !n.contains('@'))
        .and_then(|n| n.split_whitespace().next())
        .map(str::to_string)
        .unwrap_or_else(|| "there".to_string())
}

pub fn contact_view(
    contact: &Contact,
    lifecycle: &LifecycleSettings,
    now: DateTime<Utc>,
) -> ContactView {
    ContactView {
        email: contact.email.clone(),
        name: contact.name.clone().unwrap_or_default(),
        first_name: first_name(contact.name.as_deref()),
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
) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("contact", &contact_view(contact, lifecycle, now));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_name_falls_back_gracefully() {
        assert_eq!(first_name(Some("Ana María López")), "Ana");
        assert_eq!(first_name(Some("  ")), "there");
        assert_eq!(first_name(Some("ana@example.com")), "there");
        assert_eq!(first_name(None), "there");
    }
}
