use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// `DROP SEQUENCE` and `ALTER SEQUENCE … RESTART`.
    ///
    /// ## Why it matters
    /// A sequence's current value is state: dropping or restarting it loses that state, and the next
    /// generated keys can collide with rows that already exist. A down script that re-creates the
    /// sequence starts it from scratch.
    ///
    /// ## Instead
    /// Leave the sequence in place; if you need a new one, create it beside the old one and start it
    /// above the current maximum key.
    ///
    /// ## Bad
    /// ```sql
    /// ALTER SEQUENCE invoice_number_seq RESTART WITH 1;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE SEQUENCE invoice_number_v2_seq START WITH 100000;
    /// ```
    SequenceReset {
        id: "MS010",
        name: "sequence-reset",
        severity: Error,
        help: "leave sequences in place; if a new one is needed, create it beside the old one, starting above the current maximum",
    }
}

impl Rule for SequenceReset {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            // A sequence this migration created has no value worth keeping.
            if !e.effect.data.is_destructive() {
                continue;
            }
            match &e.op {
                Op::DropSequence { names } => out.push(Hit::at(
                    step,
                    format!("drops sequence {} and its current value", names.join(", ")),
                )),
                Op::AlterSequence {
                    name,
                    restart: true,
                } => out.push(Hit::at(
                    step,
                    format!("restarts sequence {name}: new keys may collide with existing rows"),
                )),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::SequenceReset::META);
    }
}
