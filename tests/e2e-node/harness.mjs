// The harness of the Node end-to-end tests: the simulator on a free loopback port, a
// configuration with its key store, and `odoo-warden-http` serving it on another free port.
//
// Mirrors tests/e2e/conftest.py: binaries come from WARDEN_BIN_DIR (default <repo>/target/debug),
// keys are shaped as `odoo-warden keys create` makes them (the store keeps only their SHA-256),
// every wait is bounded, and every process started here is stopped (SIGTERM, then SIGKILL).

import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

/** Where the built binaries are (absolute). */
export const BIN_DIR = path.resolve(process.env.WARDEN_BIN_DIR || path.join(repo, 'target', 'debug'));

/** Longest wait for a process to print its startup lines, and for one to stop. */
const STARTUP_MS = 30_000;
const STOP_MS = 10_000;

export function binary(name) {
    const file = path.join(BIN_DIR, name);
    if (!existsSync(file)) {
        throw new Error(`${file} is missing: build the workspace first (cargo build --workspace --bins)`);
    }
    return file;
}

/**
 * Stops `child`: SIGTERM, at most STOP_MS for it to exit, then SIGKILL (and as long again).
 * Returns how it ended: `{ code, signal, killed, ms }` (`killed`: SIGTERM was not enough).
 */
export async function stop(child) {
    if (!child) return undefined;
    if (child.exitCode !== null || child.signalCode !== null) {
        return { code: child.exitCode, signal: child.signalCode, killed: false, ms: 0 };
    }
    const started = Date.now();
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const within = (ms) =>
        Promise.race([exited, new Promise((resolve) => setTimeout(resolve, ms, undefined).unref())]);
    child.kill('SIGTERM');
    let ended = await within(STOP_MS);
    if (ended) return { ...ended, killed: false, ms: Date.now() - started };
    child.kill('SIGKILL');
    ended = await within(STOP_MS);
    if (!ended) throw new Error(`process ${child.pid} did not exit after SIGKILL`);
    return { ...ended, killed: true, ms: Date.now() - started };
}

// Last resort: the processes still running when this test process ends (normally, or by a
// signal from the runner) are killed, so that none outlives the run.
const live = new Set();
const killLive = () => {
    for (const child of live) child.kill('SIGKILL');
};
process.once('exit', killLive);
for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
        killLive();
        process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
}

/**
 * Spawns `file args` and reads its stdout line by line, giving each line to `onLine` until it
 * returns true (ready); rejects if that takes longer than STARTUP_MS or the process exits first.
 * Its stderr is kept (the last 16 KiB) for the error message.
 */
async function spawnUntil(file, args, env, onLine) {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
        stderr = (stderr + chunk).slice(-16_384);
    });
    child.stderrText = () => stderr;
    const lines = createInterface({ input: child.stdout });
    const signal = AbortSignal.timeout(STARTUP_MS);
    let exitedEarly;
    try {
        await new Promise((resolve, reject) => {
            const fail = (why) => reject(new Error(`${path.basename(file)}: ${why}\n--- stderr ---\n${stderr}`));
            signal.addEventListener('abort', () => fail(`not ready within ${STARTUP_MS} ms`), { once: true });
            child.once('error', (error) => fail(`cannot start: ${error.message}`));
            exitedEarly = (code, sig) => fail(`exited before it was ready (status ${code}, signal ${sig})`);
            child.once('exit', exitedEarly);
            lines.on('line', (line) => {
                try {
                    if (onLine(line)) resolve();
                } catch (error) {
                    reject(error);
                }
            });
        });
    } catch (error) {
        await stop(child);
        throw error;
    }
    // Keep draining stdout so the process never blocks on a full pipe.
    lines.removeAllListeners('line');
    lines.on('line', () => {});
    child.off('exit', exitedEarly);
    return child;
}

/**
 * The simulator on 127.0.0.1:0: `{ url, database, apiKeys: { login: key }, process }`, read
 * from the block it prints at startup (as conftest.start_sim does).
 */
export async function startSim(...extra) {
    let url;
    let database;
    const apiKeys = {};
    const child = await spawnUntil(binary('warden-odoo-sim'), ['--listen', '127.0.0.1:0', ...extra], minimalEnv(), (line) => {
        let m;
        if ((m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(line))) url = m[1];
        else if ((m = /^database: (\S+)/.exec(line))) database = m[1];
        else if ((m = /^user (\S+)\s+password \S+\s+uid \d+\s+api key ([0-9a-f]{40})/.exec(line))) apiKeys[m[1]] = m[2];
        return Boolean(url && database && Object.keys(apiKeys).length >= 3);
    });
    return { url, database, apiKeys, process: child };
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A key store record (TOML) and its secret, shaped as `odoo-warden keys create` makes them:
 * the secret is `owk_<12 hex>_<40 base62>`, the store keeps only its SHA-256.
 */
export function newKey(name, profile, { perMinute, revoked = false } = {}) {
    const hexId = randomBytes(6).toString('hex');
    let secret = `owk_${hexId}_`;
    for (let i = 0; i < 40; i++) secret += BASE62[randomInt(BASE62.length)];
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const hash = createHash('sha256').update(secret).digest('hex');
    let record =
        `[[key]]\nid = "k_${hexId}"\nname = "${name}"\nprofile = "${profile}"\n` +
        `hash = "sha256:${hash}"\ncreated = "${now}"\n`;
    if (revoked) record += `revoked = "${now}"\n`;
    if (perMinute !== undefined) record += `\n[key.rate_limit]\nper_minute = ${perMinute}\n`;
    return { record, secret };
}

/**
 * Writes `config` (whose `[keys] file` must be "keys.toml") as warden.toml in `directory`, and
 * a key store with one key per `[name, profile, options]`. Returns `{ path, keys: { name: secret } }`.
 */
export async function writeDeployment(directory, config, keys) {
    await mkdir(directory, { recursive: true });
    const records = [];
    const secrets = {};
    for (const [name, profile, options] of keys) {
        const { record, secret } = newKey(name, profile, options);
        records.push(record);
        secrets[name] = secret;
    }
    await writeFile(path.join(directory, 'keys.toml'), records.join('\n'), { mode: 0o600 });
    const file = path.join(directory, 'warden.toml');
    await writeFile(file, config, { mode: 0o600 });
    return { path: file, keys: secrets };
}

/** The two profiles of tests/e2e/test_policy_e2e.py, served over HTTP on a free loopback port. */
export function policyConfig(simUrl) {
    return `
[odoo]
url = "${simUrl}"
database = "odoo"
timeout_ms = 10000

# Each profile runs as its own Odoo user: Odoo's rights for that user still apply.
[odoo.identities.sales]
login = "sales_agent"
api_key_env = "ODOO_SALES_KEY"

[odoo.identities.support]
login = "readonly_bot"
api_key_env = "ODOO_SUPPORT_KEY"

[keys]
file = "keys.toml"

[http]
bind = "127.0.0.1:0"

[tools]
write = true

# Sales: customers without their contact details, and sales orders (whose notes it may edit).
[profiles.sales]
identity = "sales"
models = { allow = ["res.partner", "sale.*"] }
operations = { allow = ["read"] }

[profiles.sales.model."res.partner"]
fields = { read = { deny = ["email", "phone"] } }

[profiles.sales.model."sale.order"]
operations = { allow = ["write"] }
fields = { write = { allow = ["note"] } }

# Support: customers with their email, nothing of sales.
[profiles.support]
identity = "support"
models = { allow = ["res.partner"], deny = ["sale.*"] }
operations = { allow = ["read"] }
`;
}

function minimalEnv(extra = {}) {
    return { PATH: process.env.PATH || '/usr/bin:/bin', RUST_LOG: 'warn', ...extra };
}

/** `odoo-warden-http --config configPath`, once it says where it listens: `{ url, process }`. */
export async function startGateway(configPath, env) {
    let url;
    const child = await spawnUntil(binary('odoo-warden-http'), ['--config', configPath], minimalEnv(env), (line) => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(line);
        if (m) url = m[1];
        return Boolean(url);
    });
    return { url, process: child };
}

/**
 * The whole world of one test file: the simulator, the policy deployment (keys `sales-agent`
 * and `support-bot`) in a fresh temporary directory, and the gateway. `close()` stops both
 * processes and removes the directory; it never throws for one failure before trying the rest.
 */
export async function startWorld() {
    const dir = await mkdtemp(path.join(tmpdir(), 'warden-e2e-node-'));
    const world = { dir, sim: undefined, gateway: undefined, deployment: undefined, url: undefined };
    world.close = async () => {
        const errors = [];
        for (const child of [world.gateway?.process, world.sim?.process]) {
            try {
                await stop(child);
            } catch (error) {
                errors.push(error);
            }
        }
        if (!process.env.WARDEN_E2E_KEEP) await rm(dir, { recursive: true, force: true });
        if (errors.length) throw errors[0];
    };
    try {
        world.sim = await startSim();
        world.deployment = await writeDeployment(path.join(dir, 'policy'), policyConfig(world.sim.url), [
            ['sales-agent', 'sales', {}],
            ['support-bot', 'support', {}],
        ]);
        world.gateway = await startGateway(world.deployment.path, {
            ODOO_SALES_KEY: world.sim.apiKeys.sales_agent,
            ODOO_SUPPORT_KEY: world.sim.apiKeys.readonly_bot,
        });
        world.url = world.gateway.url;
        return world;
    } catch (error) {
        await world.close().catch(() => {});
        throw error;
    }
}

// ---------------------------------------------------------------------------------------------
// The official TypeScript SDK v2 client, in either protocol era.

/** Longest wait for one MCP request (the SDK's own timeout), and for one HTTP exchange. */
export const CALL_MS = 15_000;
export const REQUEST_MS = 20_000;

/**
 * The two eras, as the SDK selects them: `legacy` is its default (`initialize`, then an
 * `Mcp-Session-Id`); 2026-07-28 is pinned (`server/discover`, then stateless requests with the
 * `_meta` envelope and the `MCP-Protocol-Version` / `Mcp-Method` / `Mcp-Name` headers).
 */
export const ERAS = [
    { name: 'legacy', era: 'legacy', options: {} },
    { name: '2026-07-28', era: 'modern', options: { versionNegotiation: { mode: { pin: '2026-07-28' } } } },
];

/** Options that bound one SDK request: the SDK's timeout, and an abort signal behind it. */
export function bounded(ms = CALL_MS) {
    return { timeout: ms, signal: AbortSignal.timeout(ms + 2_000) };
}

/**
 * A fetch for the SDK's transport that bounds every exchange but the long-lived GET stream
 * (which the transport aborts on close) and records each one as `{ method, status, headers,
 * sent }` in `exchanges`. `rewrite(headers)` may change the request headers first.
 */
export function recordingFetch(exchanges, { rewrite } = {}) {
    return async (input, init = {}) => {
        const method = init.method ?? 'GET';
        const sent = new Headers(init.headers);
        if (rewrite) rewrite(sent);
        let signal = init.signal;
        if (method !== 'GET') {
            const limit = AbortSignal.timeout(REQUEST_MS);
            signal = signal ? AbortSignal.any([signal, limit]) : limit;
        }
        const response = await fetch(input, { ...init, headers: sent, signal });
        exchanges.push({ method, status: response.status, headers: response.headers, sent });
        return response;
    };
}

/**
 * An SDK client for `key` (a bearer token; `undefined` for none) in `era`, not yet connected:
 * `{ client, transport, exchanges, connect(), close() }`. `close()` ends a legacy session with
 * DELETE first (the SDK's `client.close()` alone leaves it open on the server).
 */
export function sdkClient(url, key, era, { rewrite, transportOptions = {} } = {}) {
    const exchanges = [];
    const client = new Client({ name: 'odoo-warden-e2e-node', version: '1.0.0' }, era.options);
    const transport = new StreamableHTTPClientTransport(new URL(url), {
        ...(key === undefined ? {} : { authProvider: { token: async () => key } }),
        fetch: recordingFetch(exchanges, { rewrite }),
        ...transportOptions,
    });
    return {
        client,
        transport,
        exchanges,
        connect: () => client.connect(transport, bounded()),
        close: async () => {
            try {
                if (transport.sessionId !== undefined) await transport.terminateSession();
            } finally {
                await client.close();
            }
        },
    };
}

/** Runs `fn(session)` with a connected SDK client, closing it however `fn` ends. */
export async function withClient(url, key, era, fn) {
    const session = sdkClient(url, key, era);
    try {
        await session.connect();
        return await fn(session);
    } finally {
        await session.close().catch(() => {});
    }
}

/** Where a failed tool call carries its machine-readable error (kind, message, hint). */
export const ERROR_META = 'io.github.odoo-warden/error';

/** The structured content of a tool result (which must have one). */
export function structured(result) {
    if (!result.structuredContent) throw new Error(`no structured content: ${JSON.stringify(result)}`);
    return result.structuredContent;
}

/** The text blocks of a tool result, joined. */
export function textOf(result) {
    return (result.content ?? [])
        .filter((c) => c.type === 'text')
        .map((c) => c.text)
        .join('\n');
}

/** A raw HTTP request to the MCP endpoint (bounded): `{ status, headers, text, json }`. */
export async function rawRequest(url, { method = 'POST', key, headers = {}, body } = {}) {
    const sent = { ...headers };
    if (key !== undefined) sent.authorization = `Bearer ${key}`;
    if (body !== undefined) {
        sent['content-type'] ??= 'application/json';
        sent.accept ??= 'application/json, text/event-stream';
    }
    const response = await fetch(url, {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_MS),
    });
    const text = await response.text();
    let json;
    try {
        json = JSON.parse(text);
    } catch {
        json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
}
