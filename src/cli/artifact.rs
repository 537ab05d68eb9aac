//! `msez artifact ...`.

use std::process::ExitCode;

use clap::Subcommand;

use super::Ctx;

/// `msez artifact` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {}

/// Runs one `msez artifact` subcommand.
pub fn run(command: Command, _ctx: &Ctx) -> super::Result<ExitCode> {
    match command {}
}
