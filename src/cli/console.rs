//! `tend console hash-password`: an argon2 hash for `[[console.users]]`,
//! from a password read on standard input (never an argument: it would
//! stay in the shell's history and the process list).

use super::app::UserError;
use clap::Subcommand;
use std::io::Read;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Read a password on standard input; print its argon2 hash for `password_hash`
    HashPassword,
}

pub fn run(command: ConsoleCommand) -> anyhow::Result<ExitCode> {
    let ConsoleCommand::HashPassword = command;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    // One trailing newline is the terminal's or echo's, not the password's.
    let password = input
        .strip_suffix("\r\n")
        .or_else(|| input.strip_suffix('\n'))
        .unwrap_or(&input);
    if password.is_empty() {
        return Err(UserError("no password on standard input".into()).into());
    }
    let hash = crate::console::hash_password(password).map_err(UserError)?;
    outln!("{hash}")?;
    Ok(ExitCode::SUCCESS)
}
