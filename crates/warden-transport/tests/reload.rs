//! Building the gateway's runtime from a configuration, and reloading it: on request, on a
//! change of the files it was read from, refused when invalid (the old runtime keeps serving),
//! and not any more once the handle is dropped. No Odoo is called: clients connect lazily.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use warden_config::Environment;
use warden_gateway::engine::{Gateway, ServerInfo};
use warden_policy::config::KeyStoreFile;
use warden_transport::reload;
use warden_transport::setup::{self, SetupError};

const CONFIG: &str = r#"
[odoo]
url = "http://127.0.0.1:9"
database = "odoo"

[odoo.identities.sales]
login = "sales_agent"
api_key_env = "ODOO_SALES_KEY"

[odoo.identities.support]
login = "readonly_bot"
api_key_env = "ODOO_SUPPORT_KEY"

[keys]
file = "keys.toml"

[profiles.sales]
identity = "sales"
models = { allow = ["res.partner", "sale.*"] }
operations = { allow = ["read"] }
fields = { read = { deny = ["email", "phone"] } }

[profiles.support]
identity = "support"
models = { allow = ["res.partner"] }
operations = { allow = ["read"] }
"#;

/// Longest wait for a file change to be picked up.
const WAIT: Duration = Duration::from_secs(10);

fn env() -> Environment {
    [
        ("ODOO_SALES_KEY", "0123456789abcdef0123456789abcdef01234567"),
        (
            "ODOO_SUPPORT_KEY",
            "76543210fedcba9876543210fedcba9876543210",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A configuration folder: `warden.toml`, and `keys.toml` with the keys created so far.
struct Folder {
    dir: tempfile::TempDir,
    store: KeyStoreFile,
}

impl Folder {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("warden.toml"), CONFIG).expect("config written");
        let folder = Self {
            dir,
            store: KeyStoreFile::default(),
        };
        folder.write_keys();
        folder
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("warden.toml")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Creates a key of `profile` (the store is written at once) and returns its secret.
    fn create_key(&mut self, name: &str, profile: &str) -> String {
        let (_, secret) =
            warden_policy::keys::create(&mut self.store, name, profile, None, SystemTime::now())
                .expect("a key is created");
        self.write_keys();
        secret
    }

    /// Creates a key in the store without writing the file.
    fn create_key_unsaved(&mut self, name: &str, profile: &str) -> String {
        warden_policy::keys::create(&mut self.store, name, profile, None, SystemTime::now())
            .expect("a key is created")
            .1
    }

    fn write_keys(&self) {
        replace(&self.path("keys.toml"), &self.store.to_toml());
    }
}

/// Replaces a file at once: write a sibling, rename it over.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("written");
    std::fs::rename(&tmp, path).expect("renamed");
}

fn gateway(folder: &Folder) -> Gateway {
    let loaded = setup::load(&folder.config(), &env()).expect("the configuration loads");
    Gateway::new(loaded.runtime, ServerInfo::default())
}

/// Polls `condition` every 20 ms for at most `WAIT`.
async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}

#[test]
fn every_profile_gets_the_catalog_of_its_own_identity() {
    let mut folder = Folder::new();
    folder.create_key("sales-agent", "sales");
    folder.create_key("support-bot", "support");
    let loaded = setup::load(&folder.config(), &env()).expect("the configuration loads");
    let runtime = &loaded.runtime;
    for (profile, identity) in [("sales", "sales"), ("support", "support")] {
        assert!(
            runtime.catalog(profile).is_some(),
            "no catalog for {profile}"
        );
        let compiled = runtime.policy().profile(profile).expect("the profile");
        assert_eq!(compiled.identity(), identity);
    }
    assert_eq!(
        loaded.files,
        vec![folder.config(), folder.path("keys.toml")],
        "the files a reload watches"
    );
}

#[test]
fn a_configuration_that_does_not_load_is_one_line_naming_the_key() {
    let folder = Folder::new();
    replace(
        &folder.config(),
        &CONFIG.replace("[profiles.support]\n", "[profiles.support]\nmodles = []\n"),
    );
    let error = setup::load(&folder.config(), &env()).expect_err("an unknown key is refused");
    assert!(matches!(error, SetupError::Config(_)), "{error:?}");
    let message = error.to_string();
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("modles"), "{message}");

    // A missing secret names the identity's variable, never a value.
    let mut partial = env();
    partial.remove("ODOO_SUPPORT_KEY");
    replace(&folder.config(), CONFIG);
    let message = setup::load(&folder.config(), &partial)
        .expect_err("a missing secret is refused")
        .to_string();
    assert!(message.contains("ODOO_SUPPORT_KEY"), "{message}");
    assert!(!message.contains("0123456789abcdef"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_now_swaps_in_the_new_key_store() {
    let mut folder = Folder::new();
    let first = folder.create_key("first", "sales");
    let gateway = gateway(&folder);
    let handle = reload::spawn(gateway.clone(), folder.config(), env());
    assert!(gateway.authenticate(&first, None).is_ok());

    let second = folder.create_key_unsaved("second", "support");
    assert!(gateway.authenticate(&second, None).is_err());
    folder.write_keys();
    handle.reload_now().expect("the reload succeeds");
    assert!(handle.reloads() >= 1);
    assert!(gateway.authenticate(&second, None).is_ok());
    assert!(gateway.authenticate(&first, None).is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_configuration_is_refused_and_the_old_runtime_keeps_serving() {
    let mut folder = Folder::new();
    let secret = folder.create_key("agent", "sales");
    let gateway = gateway(&folder);
    let handle = reload::spawn(gateway.clone(), folder.config(), env());
    let before = gateway.runtime();

    // A profile extending itself, and a key store that is not TOML: each refused as a whole.
    for (file, text) in [
        (
            "warden.toml",
            CONFIG.replace(
                "[profiles.support]\n",
                "[profiles.support]\nextends = [\"support\"]\n",
            ),
        ),
        ("keys.toml", "[[key]\nid = ".to_owned()),
    ] {
        let original = std::fs::read_to_string(folder.path(file)).expect("read");
        replace(&folder.path(file), &text);
        let error = handle.reload_now().expect_err("the reload is refused");
        assert_eq!(error.to_string().lines().count(), 1, "{error}");
        assert!(
            Arc::ptr_eq(&before, &gateway.runtime()),
            "the runtime was replaced by a refused configuration ({error})"
        );
        assert!(gateway.authenticate(&secret, None).is_ok());
        replace(&folder.path(file), &original);
    }
    // Wait for whatever the watcher saw to settle before counting.
    assert!(eventually(|| handle.reload_now().is_ok()).await);
    assert!(!Arc::ptr_eq(&before, &gateway.runtime()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_key_store_is_reloaded_by_the_watcher() {
    let mut folder = Folder::new();
    let first = folder.create_key("first", "sales");
    let gateway = gateway(&folder);
    let handle = reload::spawn(gateway.clone(), folder.config(), env());

    let second = folder.create_key("second", "sales");
    assert!(
        eventually(|| gateway.authenticate(&second, None).is_ok()).await,
        "the new key store was not picked up"
    );
    assert!(handle.reloads() >= 1);
    assert!(gateway.authenticate(&first, None).is_ok());

    // Revoking in place (no rename) is seen too.
    let id = folder.store.keys[0].id.clone();
    warden_policy::keys::revoke(&mut folder.store, &id, SystemTime::now()).expect("revoked");
    std::fs::write(folder.path("keys.toml"), folder.store.to_toml()).expect("written");
    assert!(
        eventually(|| gateway.authenticate(&first, None).is_err()).await,
        "the revocation was not picked up"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watch_follows_a_key_store_that_moved() {
    let mut folder = Folder::new();
    folder.create_key("first", "sales");
    let gateway = gateway(&folder);
    let handle = reload::spawn(gateway.clone(), folder.config(), env());

    // The configuration now names a key store in a subfolder.
    std::fs::create_dir(folder.path("store")).expect("a subfolder");
    let moved = folder.path("store").join("keys.toml");
    std::fs::write(&moved, folder.store.to_toml()).expect("written");
    replace(
        &folder.config(),
        &CONFIG.replace("file = \"keys.toml\"", "file = \"store/keys.toml\""),
    );
    assert!(
        eventually(|| handle.reloads() >= 1).await,
        "the configuration change was not picked up"
    );

    let second = folder.create_key_unsaved("second", "support");
    replace(&moved, &folder.store.to_toml());
    assert!(
        eventually(|| gateway.authenticate(&second, None).is_ok()).await,
        "a change of the moved key store was not picked up"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_handle_stops_the_watch() {
    let mut folder = Folder::new();
    folder.create_key("first", "sales");
    let gateway = gateway(&folder);
    let handle = reload::spawn(gateway.clone(), folder.config(), env());
    drop(handle);

    let second = folder.create_key("second", "sales");
    // Four debounce periods and more: long enough for a live watcher to have reloaded.
    tokio::time::sleep(reload::DEBOUNCE * 4 + Duration::from_millis(500)).await;
    assert!(
        gateway.authenticate(&second, None).is_err(),
        "a dropped handle still reloads"
    );
}
