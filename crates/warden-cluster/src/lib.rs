//! `warden-cluster`: the state a fleet of odoo-warden replicas shares, on Redis or Valkey.
//!
//! [`RedisStore`] implements the gateway's [`SharedState`]:
//! - rate budgets: the GCRA of [`warden_policy::RateLimiter`], run for a request's whole plan
//!   (its budgets, narrowest first) in one round trip by a Lua script (`EVALSHA`), on the
//!   clock of the Redis server (`TIME`) so that every replica sees the same time. A budget is
//!   one key holding its theoretical arrival time in microseconds; the key expires by itself
//!   once the budget is full again. The script runs atomically: concurrent requests on any
//!   number of replicas never take more than the budget;
//! - redeemed confirmation states: `SET <prefix>redeemed:<nonce> 1 NX PX <validity left>`;
//! - legacy sessions: `<prefix>session:<id>` (owner and record, idle expiry), with the sessions
//!   of each owner and of the fleet in sorted sets by last use, for the bounds;
//! - alert windows ([`SharedWindows`]): a sorted set of recent events per alert and key or
//!   address, a `NX` flag so that one replica raises each alert once per window, and the
//!   addresses each key was used from (`new_ip`), remembered for [`ADDRESS_MEMORY`].
//!
//! Every call is bounded by the configured timeout. After a failure a short breaker
//! ([`BREAKER`]) answers [`Unavailable`] at once, so that requests do not each wait for the
//! timeout while Redis is down; the next call after it tries again, and the client reconnects by
//! itself ([`redis::aio::ConnectionManager`]). The gateway decides what an unavailable store
//! means (see `warden_gateway::shared`).
//!
//! This crate knows nothing of HTTP, MCP or the configuration file: the transport builds a
//! [`RedisStore`] from [`Options`] and hands it to the gateway.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, Script};
use secrecy::{ExposeSecret, SecretString};
use warden_audit::alerts::{SharedWindows, Threshold, WindowFuture};
use warden_gateway::shared::{
    SessionBounds, SessionOpened, SharedState, StoreFuture, Taken, Unavailable,
};
use warden_policy::Budget;

/// How long the store answers [`Unavailable`] without trying, after a failure.
pub const BREAKER: Duration = Duration::from_secs(1);

/// GCRA over the budgets in `KEYS`, in order. `ARGV[1]` is `take` or `peek`; then, per key,
/// its emission interval and tolerance in microseconds. Answers `{0, 0}` when every budget has
/// room (and, for `take`, one request was taken from each), or `{i, wait}`: the `i`-th budget
/// (from 1) refuses for `wait` microseconds; the budgets before it were taken from.
const GCRA: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local take = ARGV[1] == 'take'
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local wait = tat - tolerance - now
  if wait > 0 then
    return {i, wait}
  end
  if take then
    local after = tat + interval
    redis.call('SET', key, string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000))
  end
end
return {0, 0}
";

/// Opens a legacy session. `KEYS`: the session, its owner's set, the fleet's set (sorted by last
/// use, in milliseconds of the server's clock). `ARGV`: id, owner, record, idle ms, most per
/// owner, most in the fleet, the key prefix. Forgets sessions idle for longer; an owner at its
/// bound gives up its least recently used session; a full fleet refuses. Answers `{0}` (full)
/// or `{1, ended ids...}`.
const OPEN_SESSION: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local id, owner, record = ARGV[1], ARGV[2], ARGV[3]
local idle, per_owner, max = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local prefix = ARGV[7]
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - idle)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - idle)
local answer = {1}
if redis.call('ZCARD', KEYS[2]) >= per_owner then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[2], 0, 0)) do
    redis.call('ZREM', KEYS[2], old)
    redis.call('ZREM', KEYS[3], old)
    redis.call('DEL', prefix .. 'session:' .. old)
    table.insert(answer, old)
  end
elseif redis.call('ZCARD', KEYS[3]) >= max then
  return {0}
end
redis.call('SET', KEYS[1], owner .. '\n' .. record, 'PX', idle)
redis.call('ZADD', KEYS[2], now, id)
redis.call('ZADD', KEYS[3], now, id)
redis.call('PEXPIRE', KEYS[2], idle)
redis.call('PEXPIRE', KEYS[3], idle)
return answer
";

/// Uses a legacy session: its owner and record, its expiry and last use refreshed, or nothing.
/// `KEYS`: the session, the fleet's set. `ARGV`: id, idle ms, the key prefix.
const TOUCH_SESSION: &str = r"
local value = redis.call('GET', KEYS[1])
if not value then return false end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local idle = tonumber(ARGV[2])
local owner = string.match(value, '^[^\n]*')
local mine = ARGV[3] .. 'sessions:' .. owner
redis.call('PEXPIRE', KEYS[1], idle)
redis.call('ZADD', KEYS[2], 'XX', now, ARGV[1])
redis.call('ZADD', mine, 'XX', now, ARGV[1])
redis.call('PEXPIRE', KEYS[2], idle)
redis.call('PEXPIRE', mine, idle)
return value
";

/// Ends a legacy session if the owner owns it. `KEYS`: the session, its owner's set, the
/// fleet's set. `ARGV`: id, owner.
const CLOSE_SESSION: &str = r"
local value = redis.call('GET', KEYS[1])
if not value or string.match(value, '^[^\n]*') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
";

/// Counts one event in an alert's window. `KEYS`: the window (a sorted set), the flag of the
/// last alert. `ARGV`: window ms, threshold count, a unique member. Answers the count when the
/// threshold is reached and no alert was raised within the window, else 0.
const WINDOW_HIT: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local window, count = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window - 1)
redis.call('ZADD', KEYS[1], now, ARGV[3])
local seen = redis.call('ZCARD', KEYS[1])
if seen > count then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, seen - count - 1)
  seen = count
end
redis.call('PEXPIRE', KEYS[1], window)
if seen >= count and redis.call('SET', KEYS[2], 1, 'NX', 'PX', window) then
  return seen
end
return 0
";

/// Records an address of a key. `KEYS`: the key's addresses (a set). `ARGV`: the address, the
/// most remembered, how long they are remembered (ms). Answers 1 for a new address of a key
/// already seen from another, else 0.
const NEW_ADDRESS: &str = r"
local known = redis.call('SCARD', KEYS[1])
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 0
end
if known >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if known == 0 then return 0 end
return 1
";

/// How long a fleet remembers the addresses a key was used from (`new_ip`), after the key's
/// last new address or reuse: a key idle for longer starts a new baseline.
pub const ADDRESS_MEMORY: Duration = Duration::from_secs(30 * 24 * 3600);

/// Where the shared store is and how long a call may take.
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// `redis://host:port/db` or `rediss://` (TLS), without credentials.
    pub url: String,
    /// The ACL user (Redis 6+), if any.
    pub username: Option<String>,
    /// The password (of the ACL user, or `requirepass`), if any.
    pub password: Option<SecretString>,
    /// The certificates (PEM) of the CAs that sign the server's certificate (`rediss://`),
    /// instead of Mozilla's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Prepended to every key, e.g. `odoo-warden:`.
    pub key_prefix: String,
    /// The longest any call may take.
    pub timeout: Duration,
}

impl Options {
    /// Options for `url`, with the default prefix (`odoo-warden:`) and timeout (250 ms).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            username: None,
            password: None,
            ca_pem: None,
            key_prefix: "odoo-warden:".to_owned(),
            timeout: Duration::from_millis(250),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The store could not be set up (the URL does not parse). Never holds a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The Redis URL is not one the client accepts.
    #[error("invalid Redis URL: {0}")]
    Url(String),
}

/// The shared state on one Redis (or Valkey) server.
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    gcra: Script,
    open_session: Script,
    touch_session: Script,
    close_session: Script,
    window_hit: Script,
    new_address: Script,
    /// Makes the members of alert windows unique: this store's random tag and a counter.
    members: (u64, std::sync::atomic::AtomicU64),
    /// Until when calls answer [`Unavailable`] without trying.
    open_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on `options.url`. Connects lazily: a Redis that is down at start-up is tried
    /// again on the next call after the breaker, and the gateway falls back meanwhile. Must be
    /// called within a tokio runtime.
    pub fn connect(options: &Options) -> Result<Self, ClusterError> {
        let mut info = options
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| ClusterError::Url(e.to_string()))?;
        // No `CLIENT SETINFO` at connection: one command fewer for the ACL user to be granted.
        let mut settings = info.redis_settings().clone().set_skip_set_lib_name();
        if let Some(username) = &options.username {
            settings = settings.set_username(username);
        }
        if let Some(password) = &options.password {
            settings = settings.set_password(password.expose_secret());
        }
        info = info.set_redis_settings(settings);
        let client = match &options.ca_pem {
            Some(pem) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            ),
            None => redis::Client::open(info),
        }
        .map_err(|e| ClusterError::Url(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_number_of_retries(2)
            .set_max_delay(BREAKER);
        let connection = client
            .get_connection_manager_lazy(config)
            .map_err(|e| ClusterError::Url(e.to_string()))?;
        Ok(Self {
            connection,
            prefix: options.key_prefix.clone(),
            timeout: options.timeout,
            gcra: Script::new(GCRA),
            open_session: Script::new(OPEN_SESSION),
            touch_session: Script::new(TOUCH_SESSION),
            close_session: Script::new(CLOSE_SESSION),
            window_hit: Script::new(WINDOW_HIT),
            new_address: Script::new(NEW_ADDRESS),
            members: (rand::random(), std::sync::atomic::AtomicU64::new(0)),
            open_until: Mutex::new(None),
        })
    }

    /// The server's name and version (`INFO server`: `Redis 7.0.15`, `Valkey 8.0.1`), within
    /// the timeout: what `doctor` and `/readyz` report.
    pub async fn server_version(&self) -> Result<String, Unavailable> {
        let mut connection = self.connection.clone();
        let info: String = self
            .call(async move {
                redis::cmd("INFO")
                    .arg("server")
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        Ok(describe(&info))
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.open_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one call within the timeout, behind the breaker.
    async fn call<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>> + Send,
    ) -> Result<T, Unavailable> {
        if let Some(until) = *self.breaker()
            && Instant::now() < until
        {
            return Err(Unavailable(
                "Redis failed within the last second (retrying shortly)".to_owned(),
            ));
        }
        let error = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => {
                *self.breaker() = None;
                return Ok(value);
            }
            Ok(Err(error)) => format!("Redis error: {}", error.kind_text()),
            Err(_) => format!(
                "Redis did not answer within {} ms",
                self.timeout.as_millis()
            ),
        };
        *self.breaker() = Some(Instant::now() + BREAKER);
        Err(Unavailable(error))
    }

    async fn gcra(&self, plan: &[Budget], mode: &str) -> Result<Taken, Unavailable> {
        let mut invocation = self.gcra.prepare_invoke();
        invocation.arg(mode);
        for budget in plan {
            invocation.key(format!("{}rate:{}", self.prefix, budget.scope()));
            // At least 1 µs: the script counts in microseconds (a rate beyond a million a second
            // is held to that).
            invocation.arg(micros(budget.interval()).max(1));
            invocation.arg(micros(budget.tolerance()));
        }
        let mut connection = self.connection.clone();
        let (index, wait): (u64, u64) = self
            .call(async move { invocation.invoke_async(&mut connection).await })
            .await?;
        if index == 0 {
            return Ok(Taken::Admitted);
        }
        let index = usize::try_from(index - 1)
            .ok()
            .filter(|i| *i < plan.len())
            .ok_or_else(|| Unavailable("unexpected answer from the rate script".to_owned()))?;
        Ok(Taken::Refused {
            index,
            wait: Duration::from_micros(wait),
        })
    }
}

/// `Redis <redis_version>`, or `Valkey <valkey_version>` for Valkey (which reports a Redis
/// version for compatibility too), from the text of `INFO server`.
fn describe(info: &str) -> String {
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    match (field("server_name"), field("valkey_version")) {
        (Some("valkey"), Some(version)) => format!("Valkey {version}"),
        _ => format!(
            "Redis {}",
            field("redis_version").unwrap_or("(version unknown)")
        ),
    }
}

/// Whole milliseconds, at least 1.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Whole microseconds (the fraction dropped).
fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// What a Redis error is, in a few words or the server's own (never the command or its arguments).
trait KindText {
    fn kind_text(&self) -> String;
}

impl KindText for redis::RedisError {
    fn kind_text(&self) -> String {
        if self.is_timeout() {
            "timed out".to_owned()
        } else if self.is_connection_refusal() {
            "connection refused".to_owned()
        } else if self.is_io_error()
            || self.is_connection_dropped()
            || self.is_unrecoverable_error()
        {
            "connection lost".to_owned()
        } else {
            // The server's own words (never a password: it is not sent back), kept short.
            let mut text = self.to_string();
            if let Some((cut, _)) = text.char_indices().nth(200) {
                text.truncate(cut);
            }
            text
        }
    }
}

impl SharedState for RedisStore {
    fn take<'a>(&'a self, plan: &'a [Budget]) -> StoreFuture<'a, Taken> {
        Box::pin(async move {
            if plan.is_empty() {
                return Ok(Taken::Admitted);
            }
            self.gcra(plan, "take").await
        })
    }

    fn peek<'a>(&'a self, budget: &'a Budget) -> StoreFuture<'a, Option<Duration>> {
        Box::pin(async move {
            Ok(
                match self.gcra(std::slice::from_ref(budget), "peek").await? {
                    Taken::Admitted => None,
                    Taken::Refused { wait, .. } => Some(wait),
                },
            )
        })
    }

    fn redeem<'a>(&'a self, id: &'a str, validity: Duration) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let key = format!("{}redeemed:{id}", self.prefix);
            let millis = millis(validity);
            let mut connection = self.connection.clone();
            let set: Option<String> = self
                .call(async move {
                    redis::cmd("SET")
                        .arg(key)
                        .arg(1)
                        .arg("NX")
                        .arg("PX")
                        .arg(millis)
                        .query_async(&mut connection)
                        .await
                })
                .await?;
            Ok(set.is_some())
        })
    }

    fn open_session<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        record: &'a str,
        bounds: SessionBounds,
    ) -> StoreFuture<'a, SessionOpened> {
        Box::pin(async move {
            let mut invocation = self.open_session.prepare_invoke();
            invocation
                .key(format!("{}session:{id}", self.prefix))
                .key(format!("{}sessions:{owner}", self.prefix))
                .key(format!("{}sessions", self.prefix))
                .arg(id)
                .arg(owner)
                .arg(record)
                .arg(millis(bounds.idle))
                .arg(bounds.per_owner.max(1))
                .arg(bounds.max.max(1))
                .arg(&self.prefix);
            let mut connection = self.connection.clone();
            let answer: Vec<redis::Value> = self
                .call(async move { invocation.invoke_async(&mut connection).await })
                .await?;
            let mut answer = answer.into_iter();
            match answer.next() {
                Some(redis::Value::Int(1)) => Ok(SessionOpened::Opened {
                    ended: answer
                        .filter_map(|v| redis::from_redis_value::<String>(v).ok())
                        .collect(),
                }),
                Some(redis::Value::Int(0)) => Ok(SessionOpened::Full),
                _ => Err(Unavailable(
                    "unexpected answer from the session script".to_owned(),
                )),
            }
        })
    }

    fn touch_session<'a>(
        &'a self,
        id: &'a str,
        idle: Duration,
    ) -> StoreFuture<'a, Option<(String, String)>> {
        Box::pin(async move {
            let mut invocation = self.touch_session.prepare_invoke();
            invocation
                .key(format!("{}session:{id}", self.prefix))
                .key(format!("{}sessions", self.prefix))
                .arg(id)
                .arg(millis(idle))
                .arg(&self.prefix);
            let mut connection = self.connection.clone();
            let value: Option<String> = self
                .call(async move { invocation.invoke_async(&mut connection).await })
                .await?;
            Ok(value.and_then(|v| {
                v.split_once('\n')
                    .map(|(owner, record)| (owner.to_owned(), record.to_owned()))
            }))
        })
    }

    fn version(&self) -> StoreFuture<'_, String> {
        Box::pin(self.server_version())
    }

    fn close_session<'a>(&'a self, id: &'a str, owner: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut invocation = self.close_session.prepare_invoke();
            invocation
                .key(format!("{}session:{id}", self.prefix))
                .key(format!("{}sessions:{owner}", self.prefix))
                .key(format!("{}sessions", self.prefix))
                .arg(id)
                .arg(owner);
            let mut connection = self.connection.clone();
            let closed: i64 = self
                .call(async move { invocation.invoke_async(&mut connection).await })
                .await?;
            Ok(closed == 1)
        })
    }
}

impl SharedWindows for RedisStore {
    fn hit<'a>(
        &'a self,
        name: &'a str,
        who: &'a str,
        threshold: Threshold,
    ) -> WindowFuture<'a, Option<u64>> {
        Box::pin(async move {
            let serial = self
                .members
                .1
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut invocation = self.window_hit.prepare_invoke();
            invocation
                .key(format!("{}alert:{name}:{who}", self.prefix))
                .key(format!("{}alerted:{name}:{who}", self.prefix))
                .arg(millis(threshold.window))
                .arg(threshold.count.max(1))
                .arg(format!("{:016x}-{serial}", self.members.0));
            let mut connection = self.connection.clone();
            let count: u64 = self
                .call(async move { invocation.invoke_async(&mut connection).await })
                .await
                .map_err(|_| ())?;
            Ok((count > 0).then_some(count))
        })
    }

    fn new_address<'a>(
        &'a self,
        key: &'a str,
        address: &'a str,
        max_per_key: usize,
    ) -> WindowFuture<'a, bool> {
        Box::pin(async move {
            let mut invocation = self.new_address.prepare_invoke();
            invocation
                .key(format!("{}addresses:{key}", self.prefix))
                .arg(address)
                .arg(max_per_key)
                .arg(millis(ADDRESS_MEMORY));
            let mut connection = self.connection.clone();
            let new: i64 = self
                .call(async move { invocation.invoke_async(&mut connection).await })
                .await
                .map_err(|_| ())?;
            Ok(new == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn the_server_is_named_by_its_info() {
        let redis = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n";
        assert_eq!(describe(redis), "Redis 7.0.15");
        let valkey =
            "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n";
        assert_eq!(describe(valkey), "Valkey 8.0.1");
        assert_eq!(describe(""), "Redis (version unknown)");
    }
}
