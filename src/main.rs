//! The `msez` binary: parse arguments, call the library, map errors to exit codes.

mod cli;

/// mimalloc: a batch append builds and drops tens of thousands of small JSON maps, where the
/// system allocator spent about a sixth of the CPU time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
