//! `odoo-warden`: the admin command line. `keys` manages the API keys agents present, `policy
//! explain` shows what the gateway would decide on a call and why, `config check` validates a
//! configuration and warns about risky settings, `audit` verifies, searches and follows the
//! audit log, and `demo` runs the Odoo simulator with a ready-to-use configuration.

mod audit;
mod check;
mod common;
mod demo;
mod explain;
mod keys;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// odoo-warden: a secure MCP gateway for Odoo.
#[derive(Debug, Parser)]
#[command(
    name = "odoo-warden",
    version,
    after_help = "Exit status: 0 success, 64 usage or configuration error, 74 a folder or file \
                  cannot be read, 1 other failure (`policy explain`, `config check` and `audit \
                  verify` say more in their --help)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, list, revoke and rotate the API keys agents present.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Questions about the policy.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Check a configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Verify, search and follow the audit log.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Start the Odoo simulator on loopback and print an MCP client entry for odoo-warden-stdio.
    Demo(demo::DemoArgs),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// What the gateway would decide on one tool call of one key, and the rule behind each step.
    Explain(explain::ExplainArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and its key store; warn about risky settings.
    Check(check::CheckArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(common::EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let outcome = match cli.command {
        Command::Keys { command } => keys::run(command),
        Command::Policy {
            command: PolicyCommand::Explain(args),
        } => explain::run(&args),
        Command::Config {
            command: ConfigCommand::Check(args),
        } => check::run(&args),
        Command::Audit { command } => audit::run(command),
        Command::Demo(args) => demo::run(args),
    };
    match outcome {
        Ok(status) => ExitCode::from(status),
        Err(error) => {
            common::note(&format!("odoo-warden: {}\n", one_line(&error)));
            common::exit_status(&error)
        }
    }
}

/// The error and its causes on one line.
fn one_line(error: &anyhow::Error) -> String {
    format!("{error:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
