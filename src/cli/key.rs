//! `msez key` (placeholder until its work lands).

use std::process::ExitCode;

use clap::Subcommand;

use super::Ctx;

/// `msez key` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {}

/// Runs one `msez key` subcommand.
pub fn run(command: Command, _ctx: &Ctx) -> super::Result<ExitCode> {
    match command {}
}
