//! Test support: a configuration in a temporary folder and the `odoo-warden` binary run
//! against it with a controlled environment.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The environment variable the test configurations take the Odoo API key from.
pub const KEY_VAR: &str = "TEST_ODOO_API_KEY";
/// A well-formed Odoo API key (nothing checks it offline).
pub const ODOO_KEY: &str = "0123456789abcdef0123456789abcdef01234567";

/// A configuration with a read-only profile and a writing profile extending it, one identity,
/// and a key store `keys.toml` (not created).
pub const CONFIG: &str = r#"
[odoo]
url = "http://127.0.0.1:8069"
database = "odoo"

[odoo.identities.sales]
login = "sales_agent"
api_key_env = "TEST_ODOO_API_KEY"

[keys]
file = "keys.toml"

[tools]
write = true

[profiles.reader]
identity = "sales"
models = { allow = ["res.partner", "sale.order"] }
operations = { allow = ["read"] }

[profiles.reader.model."res.partner"]
fields = { read = { deny = ["*email*", "phone"] } }

[profiles.writer]
extends = ["reader"]

[profiles.writer.model."sale.order"]
operations = { allow = ["create", "write"] }
fields = { write = { allow = ["note", "client_order_ref"] } }
"#;

/// A temporary folder with `warden.toml`.
pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new(config: &str) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("warden.toml"), config).expect("write config");
        Setup { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("warden.toml")
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("keys.toml")
    }

    /// Runs `odoo-warden` with `args`, `--config` added after the subcommand path.
    pub fn run(&self, args: &[&str]) -> Run {
        run_with(&self.config(), args, &[(KEY_VAR, ODOO_KEY)])
    }

    /// Creates a key and returns (id, secret).
    pub fn create_key(&self, name: &str, profile: &str, extra: &[&str]) -> (String, String) {
        let mut args = vec!["keys", "create", "--name", name, "--profile", profile];
        args.extend_from_slice(extra);
        let run = self.run(&args);
        assert_eq!(run.code, 0, "keys create failed: {}", run.stderr);
        let secret = run.stdout.trim().to_owned();
        let id = warden_policy::keys::key_id_of(&secret)
            .unwrap_or_else(|| panic!("stdout is not a secret: {:?}", run.stdout));
        (id, secret)
    }

    /// The policy compiled from the configuration and the key store as written.
    pub fn policy(&self) -> warden_policy::Policy {
        let env = [(KEY_VAR.to_owned(), ODOO_KEY.to_owned())].into();
        let config = warden_config::Config::load(&self.config(), &env).expect("config loads");
        let text = std::fs::read_to_string(self.store()).expect("store");
        let store = warden_policy::KeyStoreFile::from_toml(&text).expect("store parses");
        warden_policy::Policy::compile(&config.policy_config, &store, &["sales"])
            .expect("policy compiles")
    }
}

/// What a run printed and its exit status.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `odoo-warden args… --config config` with only `env` in the environment.
pub fn run_with(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_odoo-warden"));
    command.env_clear().args(args).arg("--config").arg(config);
    for (name, value) in env {
        command.env(name, value);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run odoo-warden");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}
