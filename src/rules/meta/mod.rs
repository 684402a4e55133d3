//! Rules about what migsafe cannot read (MS9xx), and its own directives.

pub mod invalid_ignore;
mod opaque_statement;
mod unknown_effect;
pub mod unused_ignore;

use super::Rule;

pub static RULES: &[&dyn Rule] = &[
    &opaque_statement::OpaqueStatement,
    &unknown_effect::UnknownEffect,
    &invalid_ignore::InvalidIgnore,
    &unused_ignore::UnusedIgnore,
];
