//! `odoo-warden`: the admin command line. Today: `demo`, which starts the Odoo simulator on a
//! free loopback port, writes a configuration for `odoo-warden-stdio` against it, and prints a
//! ready-to-paste MCP client entry. More subcommands (keys, audit, policy, config check) follow.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use serde_json::json;
use warden_odoo_sim::SimOptions;

/// odoo-warden: a secure MCP gateway for Odoo.
#[derive(Debug, Parser)]
#[command(name = "odoo-warden", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the Odoo simulator on loopback and print an MCP client entry for odoo-warden-stdio.
    #[command(after_help = "Example:\n  odoo-warden demo --login sales_agent")]
    Demo {
        /// Demo user the agent acts as: admin, sales_agent or readonly_bot.
        #[arg(long, default_value = "sales_agent")]
        login: String,
        /// Where to write the generated configuration (default: a new folder in the temp dir).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let outcome = match cli.command {
        Command::Demo { login, dir } => demo(&login, dir),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&format!("odoo-warden: {error:#}"));
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn demo(login: &str, dir: Option<PathBuf>) -> Result<()> {
    // Installed before anything is printed: a supervisor may stop us as soon as it reads the banner.
    let stop = shutdown_signal()?;
    let sim = warden_odoo_sim::start(([127, 0, 0, 1], 0).into(), SimOptions::default())
        .await
        .context("cannot start the simulator")?;
    let api_key = sim.api_key(login).with_context(|| {
        format!("no demo user {login:?} (use admin, sales_agent or readonly_bot)")
    })?;
    let dir = match dir {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("odoo-warden-demo-{}", sim.addr().port())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config_path = dir.join("warden.toml");
    let key_path = dir.join("odoo-api-key");
    write_private(&key_path, &api_key)?;
    let config = format!(
        "# odoo-warden demo configuration: the simulator on loopback.\n\
         [odoo]\n\
         url = \"{url}\"\n\
         database = \"{db}\"\n\
         login = \"{login}\"\n\
         protocol = \"auto\"\n\
         api_key_file = \"{key}\"\n\
         timeout_ms = 30000\n\
         \n\
         [tools]\n\
         write = false\n",
        url = sim.url(),
        db = sim.database(),
        key = key_path.display(),
    );
    write_private(&config_path, &config)?;

    let stdio = std::env::current_exe()?.with_file_name("odoo-warden-stdio");
    let entry = json!({
        "mcpServers": {
            "odoo-warden": {
                "command": stdio,
                "args": ["--config", config_path],
            }
        }
    });
    let mut out = String::new();
    writeln!(
        out,
        "Odoo simulator (Odoo 18 demo data) at {}, database {}",
        sim.url(),
        sim.database()
    )?;
    writeln!(
        out,
        "The agent acts as the Odoo user {login:?}; its API key is in {}",
        key_path.display()
    )?;
    writeln!(out, "Configuration written to {}", config_path.display())?;
    if !stdio.exists() {
        writeln!(
            out,
            "(build the stdio server first: cargo build --release --bin odoo-warden-stdio)"
        )?;
    }
    writeln!(
        out,
        "\nPaste into your MCP client's configuration (Claude Desktop, Cursor, VS Code):\n"
    )?;
    writeln!(out, "{}", serde_json::to_string_pretty(&entry)?)?;
    writeln!(
        out,
        "\nClaude Code: claude mcp add odoo-warden -- {} --config {}",
        stdio.display(),
        config_path.display()
    )?;
    writeln!(out, "\nPress Ctrl-C to stop the simulator.")?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    drop(stdout);

    stop.await;
    sim.shutdown().await;
    Ok(())
}

/// Installs the SIGTERM and Ctrl-C handlers now and returns a future that resolves on either.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term =
            signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
        let mut int =
            signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// Writes a file only its owner can read (it holds or points at a secret).
fn write_private(path: &Path, contents: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

#[allow(clippy::print_stderr)] // the one line a person reads when the command fails
fn report(line: &str) {
    eprintln!("{line}");
}
