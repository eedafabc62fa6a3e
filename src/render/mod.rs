//! Rendering: the Tera environment is built once per catalog; one call turns
//! (campaign, step, contact, now) into a complete MIME message. `preview`
//! and the sender use the same path, so what you preview is what is sent.

mod context;
mod current;
mod display_name;
pub mod dkim;
pub mod english;
mod footer;
mod headers;
mod helpers;
mod message;
mod names;
pub mod proofread;
#[cfg(test)]
mod properties;
mod tables;
mod tera_error;
pub mod words;

pub use context::ContactView;
pub use current::PickMode;
pub use display_name::{MAX_NAME, UnusableName, display_name};
pub use footer::{FOOTER_COLOR, add_footer};
pub use helpers::{greeting_at, humanize, join_list};
pub use message::{MessageMeta, build_message, document, is_document, message_id};
pub use names::first_name;

use crate::catalog::{Campaign, Catalog, Diagnostic, Locale, SourceFile};
use crate::config::LifecycleSettings;
use crate::domain::Contact;
use crate::variation::{self, Choice, PastSend};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use current::{Current, read, with_current};
use std::collections::{BTreeMap, HashMap};
use tera::Tera;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("campaign `{0}` is not defined")]
    UnknownCampaign(String),
    #[error("campaign `{campaign}` has no step {step}")]
    UnknownStep { campaign: String, step: u32 },
    #[error("cannot render {part} of template `{template}`: {message}")]
    Template {
        template: String,
        part: &'static str,
        message: String,
    },
    #[error("cannot build the message: {0}")]
    Message(String),
}

/// The rendered parts of one message, before MIME assembly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub preheader: Option<String>,
    pub text: String,
    pub html: Option<String>,
    /// Every variant chosen, in slot order (stored with the send).
    pub choices: Vec<Choice>,
    /// The `opener` slot's text, or the first line of the text part.
    pub opener: String,
    /// The language it is written in (the template's): the footer and the
    /// HTML `lang` follow it.
    pub locale: Locale,
}

#[derive(Debug)]
pub struct Renderer {
    tera: Tera,
    lifecycle: LifecycleSettings,
    /// The language each template is written in, by template name.
    locales: BTreeMap<String, Locale>,
    /// Each template's Tera names, worked out once: a render used to
    /// format them and scan every template name for the optional parts.
    parts: HashMap<String, PartNames>,
}

/// The Tera names of one template's parts; `None`: the template has no such part.
#[derive(Debug)]
struct PartNames {
    subject: String,
    preheader: Option<String>,
    text: String,
    html: Option<String>,
}

impl PartNames {
    fn of(tera: &Tera, template: &str) -> Self {
        let present = |part| {
            let name = part_name(template, part);
            tera.get_template(&name).is_ok().then_some(name)
        };
        Self {
            subject: part_name(template, "subject"),
            preheader: present("preheader"),
            text: part_name(template, "text"),
            html: present("html"),
        }
    }
}

/// Tera template names for each part; `.html` names get HTML auto-escaping.
fn part_name(template: &str, part: &str) -> String {
    match part {
        "html" => format!("{template}.html"),
        other => format!("{template}.{other}.txt"),
    }
}

fn step_subject_name(campaign: &str, step: usize) -> String {
    format!("campaign:{campaign}:step{}.subject.txt", step + 1)
}

impl Renderer {
    /// Compiles every template part and step subject; syntax errors come back
    /// as diagnostics pointing into the template or campaign file.
    pub fn build(catalog: &Catalog, lifecycle: LifecycleSettings) -> Result<Self, Vec<Diagnostic>> {
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html"]);
        helpers::register(&mut tera);
        let mut out = Vec::new();
        for (name, t) in &catalog.templates {
            let subject_pos = t.file.position(t.subject_at);
            let mut parts: Vec<(&str, &str, (usize, usize))> =
                vec![("subject", &t.subject, subject_pos)];
            if let Some(pre) = &t.preheader {
                parts.push(("preheader", pre, t.file.position(t.preheader_at)));
            }
            parts.push(("text", &t.text, (t.text_line, 1)));
            if let Some(html) = &t.html {
                parts.push(("html", html, (t.html_line, 1)));
            }
            for (part, source, origin) in parts {
                if let Err(e) = tera.add_raw_template(&part_name(name, part), source) {
                    out.push(tera_error::diagnostic(&t.file, origin, part, &e));
                }
            }
        }
        for c in catalog.campaigns.values() {
            for (i, step) in c.steps.iter().enumerate() {
                if let (Some(subject), Some(at)) = (&step.subject, step.subject_at) {
                    if let Err(e) = tera.add_raw_template(&step_subject_name(&c.id, i), subject) {
                        let file = SourceFile::new(
                            &c.path,
                            std::fs::read_to_string(&c.path).unwrap_or_default(),
                        );
                        out.push(tera_error::diagnostic(
                            &file,
                            file.position(at),
                            "subject",
                            &e,
                        ));
                    }
                }
            }
        }
        // Literal options become tables built once, read by number.
        let tables: std::sync::Arc<[tables::Table]> = tables::intern(&mut tera).into();
        tera.register_filter(
            tables::TABLE_FILTER,
            current::PickFilter {
                tables: tables.clone(),
            },
        );
        tera.register_function("pick", current::Pick { tables });
        let locales = catalog
            .templates
            .iter()
            .map(|(name, t)| (name.clone(), t.locale))
            .collect();
        let parts = catalog
            .templates
            .keys()
            .map(|name| (name.clone(), PartNames::of(&tera, name)))
            .collect();
        if out.is_empty() {
            Ok(Self {
                tera,
                lifecycle,
                locales,
                parts,
            })
        } else {
            Err(out)
        }
    }

    /// The template a contact gets for `template`, and its language: the
    /// version in the contact's language (`NAME.de`) when one exists and
    /// the default is in another language, else the default.
    pub fn template_for(&self, template: &str, contact: &Contact) -> (String, Locale) {
        let default = self.locales.get(template).copied().unwrap_or_default();
        match Locale::of_contact(&contact.attributes) {
            Some(wanted) if wanted != default => {
                let localized = format!("{template}.{}", wanted.code());
                match self.locales.get(&localized) {
                    Some(&locale) => (localized, locale),
                    None => (template.to_string(), default),
                }
            }
            _ => (template.to_string(), default),
        }
    }

    /// Renders step `step` (0-based) of `campaign` for `contact` at `now`;
    /// `history` is what the contact already received, oldest first.
    pub fn render(
        &self,
        campaign: &Campaign,
        step: usize,
        contact: &Contact,
        now: DateTime<Utc>,
        history: &[PastSend],
    ) -> Result<Rendered, RenderError> {
        self.render_with(campaign, step, contact, now, history, PickMode::Seeded)
    }

    /// [`Renderer::render`] with a choice of how `pick` decides.
    pub fn render_with(
        &self,
        campaign: &Campaign,
        step: usize,
        contact: &Contact,
        now: DateTime<Utc>,
        history: &[PastSend],
        mode: PickMode,
    ) -> Result<Rendered, RenderError> {
        let step_def = campaign
            .steps
            .get(step)
            .ok_or_else(|| RenderError::UnknownStep {
                campaign: campaign.id.clone(),
                step: step as u32 + 1,
            })?;
        let (template, locale) = self.template_for(&step_def.template, contact);
        let first_name = first_name(contact.name.as_deref());
        let ctx = context::build(
            campaign,
            step,
            contact,
            &self.lifecycle,
            now,
            locale,
            first_name.as_deref(),
        );
        let state = Current {
            seed: variation::seed(&contact.email, &campaign.id, step),
            history: history.to_vec(),
            now,
            zone: contact
                .timezone
                .as_deref()
                .and_then(|z| z.parse::<Tz>().ok())
                .unwrap_or(Tz::UTC),
            attributes: contact.attributes.clone(),
            locale,
            first_name,
            mode,
            part: "subject",
            chosen: BTreeMap::new(),
            banned: Vec::new(),
        };
        let previous_subject = history.last().map(|p| p.subject.as_str());
        // A step's own subject is written in the default template's language.
        let step_subject = step_def.subject.is_some() && template == step_def.template;
        let template = &template;
        // A template outside the catalog has no names here: Tera then says
        // what it says for any unknown template.
        let computed;
        let names = match self.parts.get(template) {
            Some(names) => names,
            None => {
                computed = PartNames::of(&self.tera, template);
                &computed
            }
        };
        let (parts, state) = with_current(state, || {
            let render = |name: &str, part: &'static str| {
                // Outside a render `read` fails; inside it always succeeds.
                let _ = read(|s| {
                    s.part = part;
                    Ok(())
                });
                self.tera
                    .render(name, &ctx)
                    .map_err(|e| RenderError::Template {
                        template: template.clone(),
                        part,
                        message: tera_error::chain(&e),
                    })
            };
            let step_subject_source;
            let subject_source = if step_subject {
                step_subject_source = step_subject_name(&campaign.id, step);
                &step_subject_source
            } else {
                &names.subject
            };
            let mut subject = one_line(&render(subject_source, "subject")?);
            // Never the previous subject again when the template offers another.
            for _ in 0..4 {
                if previous_subject != Some(subject.as_str()) || !ban_subject_choices() {
                    break;
                }
                subject = one_line(&render(subject_source, "subject")?);
            }
            let preheader = match &names.preheader {
                Some(name) => Some(one_line(&render(name, "preheader")?)),
                None => None,
            };
            let text = render(&names.text, "text")?;
            let html = match &names.html {
                Some(name) => Some(render(name, "html")?),
                None => None,
            };
            Ok::<_, RenderError>((subject, preheader, text, html))
        });
        let (subject, preheader, text, html) = parts?;
        if subject.is_empty() {
            return Err(RenderError::Template {
                template: template.clone(),
                part: "subject",
                message: "the subject rendered empty".into(),
            });
        }
        let choices: Vec<Choice> = state.chosen.into_values().collect();
        Ok(Rendered {
            opener: variation::opener(&choices, &text),
            subject,
            preheader,
            text,
            html,
            choices,
            locale,
        })
    }
}

/// Rules out the choices made in the subject (where there was another
/// option) and forgets them, so the subject renders differently. Returns
/// false when the subject offered no alternative.
fn ban_subject_choices() -> bool {
    read(|s| {
        let varied: Vec<Choice> = s
            .chosen
            .values()
            .filter(|c| c.part == "subject" && c.had_alternatives())
            .cloned()
            .collect();
        for c in &varied {
            s.banned.push((c.slot.clone(), c.n - 1));
            s.chosen.remove(&c.slot);
        }
        Ok(!varied.is_empty())
    })
    .unwrap_or(false)
}

/// Header values are one line: newlines in user data can never start a new header.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}
