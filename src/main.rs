//! The `bosun` binary: parse the command line, run it, and turn errors into one clear line.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = bosun::cli::Cli::parse();
    match bosun::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // Errors can quote agent-controlled text: control characters are shown, not obeyed.
            let message = format!("{e:#}");
            eprintln!("error: {}", bosun::cli::visible::visible(&message));
            ExitCode::FAILURE
        }
    }
}
