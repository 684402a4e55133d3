use clap::Args;

use super::{Outcome, print};
use crate::rules::registry::{self, ALL};

#[derive(Debug, Args)]
pub struct RuleArgs {
    /// Rule ID (MS002) or name (drop-column). Without it, all rules are listed.
    pub rule: Option<String>,
}

pub fn run(args: RuleArgs) -> anyhow::Result<Outcome> {
    let text = match args.rule {
        Some(id) => {
            let meta = registry::lookup(&id).ok_or_else(|| {
                anyhow::anyhow!("unknown rule `{id}`; `migsafe rule` lists them all")
            })?;
            meta.page()
        }
        None => {
            let mut s = String::new();
            for r in ALL.iter() {
                let m = r.meta();
                s.push_str(&format!(
                    "{}  {:<38} {:<8} {}\n",
                    m.id,
                    m.name,
                    m.default_level(),
                    m.summary()
                ));
            }
            s
        }
    };
    print(&text)?;
    Ok(Outcome::Clean)
}
