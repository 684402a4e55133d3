//! (being written)

use super::Rule;

#[cfg(test)]
mod scratch;

pub static RULES: &[&dyn Rule] = &[];
