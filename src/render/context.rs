//! What templates see: `contact`, `campaign`, `step`, `now`.

use crate::catalog::{Campaign, Locale};
use crate::config::LifecycleSettings;
use crate::domain::{Attributes, Contact};
use crate::segment::stage_of;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

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

/// What templates see as `campaign` (the test below holds [`build`] to it).
#[cfg(test)]
#[derive(Debug, Serialize)]
struct CampaignView<'a> {
    id: &'a str,
    description: &'a str,
}

/// What templates see as `step`.
#[cfg(test)]
#[derive(Debug, Serialize)]
struct StepView<'a> {
    /// 1-based position in the sequence.
    number: usize,
    count: usize,
    template: &'a str,
}

/// The owned view; the renderer builds the same values directly
/// ([`build`]), which the test below holds to the same JSON.
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

/// What `contact` serializes to: the value of [`ContactView`] (templates
/// cannot tell them apart), built as Tera's values directly instead of
/// through serde, without copying the contact first.
fn contact_value(
    contact: &Contact,
    lifecycle: &LifecycleSettings,
    now: DateTime<Utc>,
    locale: Locale,
    first_name: Option<&str>,
) -> Value {
    let text = |s: &str| Value::String(s.to_string());
    let mut map = Map::new();
    map.insert("email".into(), text(&contact.email));
    map.insert(
        "name".into(),
        text(contact.name.as_deref().unwrap_or_default()),
    );
    map.insert("first_name".into(), text(first_name.unwrap_or_default()));
    map.insert(
        "tags".into(),
        Value::Array(contact.tags.iter().map(|t| text(t)).collect()),
    );
    map.insert(
        "attributes".into(),
        Value::Object(contact.attributes.clone()),
    );
    map.insert(
        "stage".into(),
        Value::String(
            stage_of(contact.created_at, contact.last_activity_at, lifecycle, now)
                .map(|s| s.to_string())
                .unwrap_or_default(),
        ),
    );
    map.insert(
        "created_at".into(),
        Value::String(contact.created_at.to_rfc3339()),
    );
    map.insert(
        "last_activity_at".into(),
        contact
            .last_activity_at
            .map_or(Value::Null, |t| Value::String(t.to_rfc3339())),
    );
    map.insert(
        "timezone".into(),
        text(contact.timezone.as_deref().unwrap_or("UTC")),
    );
    map.insert("locale".into(), locale_value(locale));
    Value::Object(map)
}

fn locale_value(locale: Locale) -> Value {
    // A unit variant always serializes.
    serde_json::to_value(locale).unwrap_or_default()
}

/// `first_name`: [`super::names::first_name`] of the contact's name, which
/// the renderer works out once for the context and its helpers. The values
/// are what serializing [`ContactView`], [`CampaignView`] and [`StepView`]
/// gives, built directly rather than through serde's value serializer.
pub fn build(
    campaign: &Campaign,
    step: usize,
    contact: &Contact,
    lifecycle: &LifecycleSettings,
    now: DateTime<Utc>,
    locale: Locale,
    first_name: Option<&str>,
) -> tera::Context {
    let mut data = Map::new();
    data.insert(
        "contact".into(),
        contact_value(contact, lifecycle, now, locale, first_name),
    );
    let mut campaign_map = Map::new();
    campaign_map.insert("id".into(), Value::String(campaign.id.clone()));
    campaign_map.insert(
        "description".into(),
        Value::String(campaign.description.clone()),
    );
    data.insert("campaign".into(), Value::Object(campaign_map));
    let mut step_map = Map::new();
    step_map.insert("number".into(), Value::from(step + 1));
    step_map.insert("count".into(), Value::from(campaign.steps.len()));
    step_map.insert(
        "template".into(),
        Value::String(campaign.steps[step].template.clone()),
    );
    data.insert("step".into(), Value::Object(step_map));
    data.insert("now".into(), Value::String(now.to_rfc3339()));
    // An object always makes a context.
    tera::Context::from_value(Value::Object(data)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contact_is_what_serializing_the_contact_view_gives() {
        let now: DateTime<Utc> = "2026-03-10T10:00:00.123456Z".parse().unwrap();
        let lifecycle = LifecycleSettings::default();
        let mut attributes = Attributes::new();
        attributes.insert("plan".into(), "pro".into());
        attributes.insert("seats".into(), 3.into());
        for (name, activity, zone, locale) in [
            (
                Some("Ana María López"),
                Some(now - chrono::Duration::days(40)),
                Some("Europe/Berlin"),
                Locale::De,
            ),
            (None, None, None, Locale::En),
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
            let view = contact_view(&contact, &lifecycle, now, locale);
            let built = contact_value(&contact, &lifecycle, now, locale, first.as_deref());
            // What `Context::insert` stored: the view as a value.
            assert_eq!(serde_json::to_value(&view).unwrap(), built);
        }
    }

    #[test]
    fn campaign_and_step_are_what_serializing_their_views_gives() {
        let view = CampaignView {
            id: "win-back",
            description: "Bring people back",
        };
        let step = StepView {
            number: 2,
            count: 3,
            template: "checking-in",
        };
        assert_eq!(
            serde_json::to_string(&view).unwrap(),
            r#"{"id":"win-back","description":"Bring people back"}"#
        );
        assert_eq!(
            serde_json::to_value(&step).unwrap(),
            serde_json::json!({"number": 2, "count": 3, "template": "checking-in"})
        );
        assert_eq!(
            serde_json::to_value(step.number).unwrap(),
            Value::from(2usize)
        );
    }
}
