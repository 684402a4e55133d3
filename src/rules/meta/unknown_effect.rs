use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// Statements migsafe can read but whose effect on data it cannot know: `DO` blocks (procedural
    /// code) and statement kinds migsafe does not model.
    ///
    /// ## Why it matters
    /// A `DO` block can delete or overwrite anything; migsafe does not guess, so the migration is
    /// reported as `unknown` and `migsafe plan` blocks it until someone looks.
    ///
    /// ## Instead
    /// Express data changes as plain SQL statements (`UPDATE … WHERE …`) that migsafe classifies, or
    /// suppress with `-- migsafe:ignore unknown-effect <reason>` after checking the code.
    ///
    /// ## Bad
    /// ```sql
    /// DO $$ BEGIN DELETE FROM sessions WHERE expires_at < now(); END $$;
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE sessions (id uuid PRIMARY KEY, expires_at timestamptz);
    /// DELETE FROM sessions WHERE expires_at < now();
    /// ```
    UnknownEffect {
        id: "MS902",
        name: "unknown-effect",
        severity: Error,
        help: "move the data change into plain SQL statements that migsafe can classify, or suppress with a reason",
    }
}

impl Rule for UnknownEffect {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (step, e) in cx.ops() {
            if e.effect.data == crate::classify::DataEffect::Unknown {
                out.push(Hit::at(
                    step,
                    format!("{}: its effect on data is unknown", e.effect.reason),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples() {
        crate::rules::testing::check_rule(&super::UnknownEffect::META);
    }
}
