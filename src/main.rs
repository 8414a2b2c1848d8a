//! The `customcd` binary: parse, run, print the error once, exit with its documented code.

use std::process::ExitCode;

use customcd::cli::{args_with_dispatch, parse};
use customcd::env::Env;

fn main() -> ExitCode {
    let cli = parse(args_with_dispatch(std::env::args_os().collect()));
    match customcd::run(cli, &Env::from_process()) {
        Ok(()) => ExitCode::from(customcd::error::EXIT_OK),
        Err(e) => {
            customcd::output::error(&format!("{e:#}"));
            ExitCode::from(e.exit_code())
        }
    }
}
