//! The vocabulary of filters: what an expression may name (attribute types,
//! lifecycle thresholds, custom stages in precedence order), and the entry
//! points that check and resolve expressions against it.

use super::cond::{AttrType, Cond};
use super::filter::{self, Expr, FilterError};
use super::resolve::Resolver;
use crate::config::LifecycleSettings;
use crate::domain::Stage;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A custom stage from `[lifecycle.stages]`.
#[derive(Debug, Clone, PartialEq)]
pub struct StageDef {
    pub name: String,
    pub text: String,
    pub expr: Expr,
}

/// What filters may name: attribute types, lifecycle thresholds and custom
/// stages (in precedence order).
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub lifecycle: LifecycleSettings,
    pub attributes: BTreeMap<String, AttrType>,
    /// Attributes imported with values of different types and not declared:
    /// unusable until declared.
    pub mixed: Vec<String>,
    pub stages: Vec<StageDef>,
}

impl Vocabulary {
    pub fn custom_stage(&self, name: &str) -> Option<&StageDef> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// Every stage name: custom ones first (their precedence), then built-in.
    pub fn stage_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
        for stage in Stage::ALL {
            if !names.contains(&stage.as_str()) {
                names.push(stage.as_str());
            }
        }
        names
    }

    /// The condition for membership in stage `name` at `now`.
    pub fn stage(&self, name: &str, now: DateTime<Utc>) -> Option<Cond> {
        let mut r = Resolver {
            vocab: self,
            now,
            errors: Vec::new(),
            stack: Vec::new(),
        };
        r.stage(name)
    }

    /// Checks an expression; every problem comes back.
    pub fn check(&self, expr: &Expr) -> Result<(), Vec<FilterError>> {
        self.resolve(expr, DateTime::<Utc>::UNIX_EPOCH).map(|_| ())
    }

    /// Resolves an expression at `now`.
    pub fn resolve(&self, expr: &Expr, now: DateTime<Utc>) -> Result<Cond, Vec<FilterError>> {
        let mut r = Resolver {
            vocab: self,
            now,
            errors: Vec::new(),
            stack: Vec::new(),
        };
        let cond = r.expr(expr);
        if r.errors.is_empty() {
            Ok(cond)
        } else {
            Err(r.errors)
        }
    }

    /// Checks custom stage `index` against the stages before and after it
    /// (cycles are errors).
    pub fn check_stage(&self, index: usize) -> Result<(), Vec<FilterError>> {
        let def = &self.stages[index];
        let mut r = Resolver {
            vocab: self,
            now: DateTime::<Utc>::UNIX_EPOCH,
            errors: Vec::new(),
            stack: vec![def.name.clone()],
        };
        r.expr(&def.expr);
        if r.errors.is_empty() {
            Ok(())
        } else {
            Err(r.errors)
        }
    }
}

/// Parses and checks in one go (for tests and tools).
pub fn compile(
    vocab: &Vocabulary,
    text: &str,
    now: DateTime<Utc>,
) -> Result<Cond, Vec<FilterError>> {
    let expr = filter::parse(text).map_err(|e| vec![e])?;
    vocab.resolve(&expr, now)
}
