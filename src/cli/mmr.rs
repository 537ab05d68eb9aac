//! `msez mmr` (placeholder until its work lands).

use std::process::ExitCode;

use clap::Subcommand;

use super::Ctx;

/// `msez mmr` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {}

/// Runs one `msez mmr` subcommand.
pub fn run(command: Command, _ctx: &Ctx) -> super::Result<ExitCode> {
    match command {}
}
