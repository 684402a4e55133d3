//! Thin binary: parse arguments, run the command, map the outcome to an exit code
//! (0 clean, 1 findings, 2 error). Errors go to stderr with their cause chain.

use std::process::ExitCode;

use clap::Parser;
use migsafe::cli::{self, Cli, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli::run(cli) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Err(err) => {
            let mut msg = format!("error: {err}");
            for cause in err.chain().skip(1) {
                // Library errors already name their cause in their own message.
                let cause = cause.to_string();
                if !msg.contains(&cause) {
                    msg.push_str(&format!("\n  caused by: {cause}"));
                }
            }
            anstream::eprintln!("{msg}");
            ExitCode::from(2)
        }
    }
}
