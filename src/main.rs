//! The `bosun` binary: parse the command line, run it, and turn errors into one clear line.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = bosun::cli::Cli::parse();
    match bosun::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
