//! `msez key`: make Ed25519 keys and show their did:key.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use msez::vc::{Jwk, KeyPair};

use super::{Ctx, written};

/// `msez key` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate an Ed25519 OKP JWK (mode 0600, never overwrites) and print its did:key.
    ///
    /// Example: msez key gen --out zone-a.jwk --kid zone-a
    Gen(GenArgs),
    /// Print the did:key of a JWK (private or public, or the {private_jwk, verificationMethod} wrapper).
    Did(DidArgs),
}

/// `msez key gen --out KEY.jwk [--kid KID]`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Where to write the private JWK; must not exist.
    #[arg(long, value_name = "KEY.jwk")]
    pub out: PathBuf,
    /// The key id stored in the JWK.
    #[arg(long, value_name = "KID")]
    pub kid: Option<String>,
}

/// `msez key did KEY.jwk`.
#[derive(Debug, clap::Args)]
pub struct DidArgs {
    /// The key file.
    pub key: PathBuf,
}

/// Runs one `msez key` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        Command::Gen(args) => generate(args, ctx),
        Command::Did(args) => did(args, ctx),
    }
}

fn generate(args: GenArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let path = ctx.path(&args.out);
    let pair = KeyPair::generate(args.kid)?;
    pair.write_new(&path)?;
    ctx.out.note(format_args!(
        "wrote private key {} (mode 0600)",
        path.display()
    ));
    let did = pair.did();
    let report = serde_json::json!({
        "did": did,
        "verification_method": pair.verification_method(),
        "kid": pair.kid(),
        "path": path,
    });
    written(ctx.out.emit(&report, |w| writeln!(w, "{did}")))?;
    Ok(ExitCode::SUCCESS)
}

fn did(args: DidArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let path = ctx.path(&args.key);
    let (jwk, vm) = Jwk::load(&path)?;
    let did = jwk.did(&path.display().to_string())?;
    let vm = vm.unwrap_or_else(|| did.default_verification_method());
    let report = serde_json::json!({ "did": did, "verification_method": vm, "kid": jwk.kid });
    written(ctx.out.emit(&report, |w| writeln!(w, "{did}")))?;
    Ok(ExitCode::SUCCESS)
}
