use crate::rules::{Context, Hit, Rule, RuleMeta, rule};
#[allow(unused_imports)]
use crate::sql::Op;

rule! {
    /// ## What it flags
    /// Statements migsafe can read but whose effect on data it cannot know: `EXECUTE` of SQL text
    /// computed at run time, calls of functions whose body migsafe cannot read (created outside
    /// the migrations, or written in C or another language), procedural code in languages other
    /// than PL/pgSQL, and statement kinds migsafe does not model.
    ///
    /// `DO` blocks and the bodies of SQL and PL/pgSQL functions created by the migrations are
    /// read: their statements are classified like top-level ones, a branch counting as taken.
    /// `EXECUTE` of a literal, of `format()` with a literal format, or of a concatenation that
    /// starts with a literal is read from that text (objects named at run time stand as
    /// `<named at run time>`). A function declared `IMMUTABLE` or `STABLE` cannot write.
    ///
    /// ## Why it matters
    /// Such code can delete or overwrite anything; migsafe does not guess, so the migration is
    /// reported as `unknown` and `migsafe plan` blocks it until someone looks.
    ///
    /// ## Instead
    /// Express data changes as plain SQL statements (`UPDATE … WHERE …`) that migsafe classifies,
    /// create the functions you call in the migrations, or suppress with
    /// `-- migsafe:ignore unknown-effect <reason>` after checking the code.
    ///
    /// ## Bad
    /// ```sql
    /// DO $$ DECLARE q text := current_setting('app.cleanup'); BEGIN EXECUTE q; END $$;
    /// SELECT archive_old_rows();
    /// ```
    ///
    /// ## Good
    /// ```sql
    /// CREATE TABLE sessions (id uuid PRIMARY KEY, expires_at timestamptz);
    /// DELETE FROM sessions WHERE expires_at < now();
    /// DO $$ BEGIN
    ///   IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
    ///     CREATE TYPE mood AS ENUM ('ok', 'sad');
    ///   END IF;
    /// END $$;
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
