//! gitlab output (being written).

use super::Report;

pub fn render(_report: &Report) -> String {
    unimplemented!("gitlab output")
}
