//! The `tend` binary: parse the command line, start logging, dispatch.

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use tend::cli::{Cli, Command, LogFormat, UserError, dispatch, stdout_closed};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        // `tend … | head`: the reader has what it wanted; nothing went wrong.
        Err(error) if stdout_closed(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let user = error.downcast_ref::<UserError>().is_some();
            eprintln!("error: {error:#}");
            ExitCode::from(if user { 1 } else { 2 })
        }
    }
}

fn init_logging(cli: &Cli) {
    // The daemon narrates at info; one-shot commands speak only when something is wrong.
    let default = match cli.command {
        Command::Run(_) => "info",
        _ => "warn",
    };
    let filter = EnvFilter::try_from_env("TEND_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Auto => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
