//! `odoo-warden`: the admin command line. `keys` manages the API keys agents present, `policy
//! explain` shows what the gateway would decide on a call and why, `config check` validates a
//! configuration and warns about risky settings, `audit` verifies, searches, follows and reports
//! on the audit log (and makes its signing key), `doctor` checks that a deployment is ready,
//! `demo` runs the Odoo simulator and the gateway with a ready-to-use configuration, and
//! `completions` prints shell completion scripts.

mod audit;
mod check;
mod common;
mod demo;
mod doctor;
mod explain;
mod keys;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// odoo-warden: a secure MCP gateway for Odoo.
#[derive(Debug, Parser)]
#[command(
    name = "odoo-warden",
    version,
    after_help = "\
Examples:
  odoo-warden demo                                   try it on the built-in Odoo simulator
  odoo-warden keys create --config warden.toml --name claude-desktop --profile sales
  odoo-warden config check --config warden.toml --online
  odoo-warden doctor --config warden.toml
  odoo-warden policy explain --config warden.toml --key k_3f9a0c1e5b7d --tool search_records \\
      --args '{\"model\": \"res.partner\", \"fields\": [\"name\", \"email\"]}'
  odoo-warden audit verify /var/lib/odoo-warden/audit
  odoo-warden audit verify ./audit --public-key audit-signing.pub --anchors anchors.jsonl
  odoo-warden audit keygen /etc/odoo-warden/secrets/audit-signing.key
  odoo-warden audit search --config warden.toml --key claude-desktop --outcome denied --since 24h
  odoo-warden audit search --config warden.toml --record res.partner:42 --since 90d
  odoo-warden audit report --config warden.toml --since 30d --html audit-report.html
  odoo-warden completions bash > /etc/bash_completion.d/odoo-warden

Exit status: 0 success; 1 a failure or a denial (`policy explain`), a broken chain (`audit \
verify`), a failed check (`doctor`); 2 warnings (`config check`, `doctor`); 64 a usage or \
configuration error; 69 Odoo unreachable; 74 a folder or file cannot be read. Errors are one \
line on stderr, without secrets."
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
    /// Verify, search, follow and report on the audit log; make the key pair that signs it.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Is this deployment ready? Reach Odoo as every identity, compare the clocks, check the
    /// keys, the audit folder and TLS.
    Doctor(doctor::DoctorArgs),
    /// Start the Odoo simulator and the HTTP gateway on loopback, with a demo key and
    /// ready-to-paste client configurations.
    Demo(demo::DemoArgs),
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "\
Examples:
  odoo-warden completions bash > ~/.local/share/bash-completion/completions/odoo-warden
  odoo-warden completions zsh > ~/.zfunc/_odoo-warden
  odoo-warden completions fish > ~/.config/fish/completions/odoo-warden.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
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
        Command::Doctor(args) => doctor::run(&args),
        Command::Demo(args) => demo::run(args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "odoo-warden", &mut script);
            common::out(&String::from_utf8_lossy(&script)).map(|()| common::EXIT_OK)
        }
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
