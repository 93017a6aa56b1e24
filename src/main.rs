//! The `bosun` binary: parse the command line, run it, and turn errors into one clear line.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    bosun::telemetry::mark_start();
    // libgit2 checks the SHA-1 of every object it reads (with collision detection): a quarter
    // of the time the review's first screen takes to read its files from git. git itself checks
    // objects when they arrive (fetch, fsck), not on every read. Nothing this protects comes
    // from an agent: a sandboxed agent cannot write the repository's objects (bosun hashes
    // what it takes from the checkout itself), and an agent without a sandbox can already
    // change bosun's own files.
    git2::opts::strict_hash_verification(false);
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
