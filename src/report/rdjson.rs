//! rdjson output (being written).

use super::Report;

pub fn render(_report: &Report) -> String {
    unimplemented!("rdjson output")
}
