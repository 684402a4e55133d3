//! github output (being written).

use super::Report;

pub fn render(_report: &Report) -> String {
    unimplemented!("github output")
}
