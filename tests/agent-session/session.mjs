// The realistic agent session of session.json, for the Node clients (the TypeScript SDK v1 and
// v2 in tests/e2e-node, the MCP Inspector CLI in tests/e2e-inspector): `odoo-warden demo` on a free
// loopback port, the session's steps run through whatever client the caller wraps, and every
// answer checked the same way tests/e2e/agent_session.py checks the Python SDK's.
//
// No dependency beyond Node itself: each suite brings its own client.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

/** The session: `{ hidden, profiles: { profile: [step] } }`. */
export const SESSION = JSON.parse(readFileSync(path.join(here, 'session.json'), 'utf8'));

/** Where a failed tool call carries its machine-readable error (kind, message, hint). */
export const ERROR_META = 'io.github.odoo-warden/error';

/** Where the built binaries are (absolute). */
export const BIN_DIR = path.resolve(process.env.WARDEN_BIN_DIR || path.join(repo, 'target', 'debug'));

const STARTUP_MS = 30_000;
const STOP_MS = 10_000;

export function binary(name) {
    const file = path.join(BIN_DIR, name);
    if (!existsSync(file)) {
        throw new Error(`${file} is missing: build the workspace first (cargo build --workspace --bins)`);
    }
    return file;
}

/** SIGTERM, then SIGKILL after STOP_MS; resolves once the process has exited. */
async function stop(child) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const within = (ms) => Promise.race([exited, new Promise((resolve) => setTimeout(resolve, ms, 'timeout').unref())]);
    child.kill('SIGTERM');
    if ((await within(STOP_MS)) === 'timeout') {
        child.kill('SIGKILL');
        await within(STOP_MS);
    }
}

const live = new Set();
process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
});

/**
 * `odoo-warden demo --profile PROFILE` on 127.0.0.1:0 in a fresh folder: `{ url, key, config,
 * stdio: { command, args, env }, close() }`, read from the banner it prints.
 */
export async function startDemo(profile) {
    const dir = await mkdtemp(path.join(tmpdir(), `warden-demo-${profile}-`));
    const child = spawn(binary('odoo-warden'), ['demo', '--listen', '127.0.0.1:0', '--dir', dir, '--profile', profile], {
        env: { PATH: process.env.PATH || '/usr/bin:/bin', RUST_LOG: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
        stderr = (stderr + chunk).slice(-16_384);
    });
    const lines = createInterface({ input: child.stdout });
    let url;
    let key;
    let config;
    try {
        await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`the demo did not start within ${STARTUP_MS} ms\n${stderr}`)), STARTUP_MS);
            child.once('exit', (code) => reject(new Error(`the demo exited (status ${code})\n${stderr}`)));
            lines.on('line', (line) => {
                let m;
                if ((m = /^Configuration written to (\S+)/.exec(line))) config ??= m[1];
                if ((m = /The gateway listens at (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(line))) url ??= m[1];
                if ((m = /Authorization: Bearer (owk_[A-Za-z0-9_]+)/.exec(line))) key ??= m[1];
                if (url && key && config) {
                    clearTimeout(timer);
                    resolve();
                }
            });
        });
    } catch (error) {
        await stop(child);
        await rm(dir, { recursive: true, force: true });
        throw error;
    }
    lines.removeAllListeners('line');
    lines.on('line', () => {});
    return {
        url,
        key,
        config,
        stdio: {
            command: binary('odoo-warden-stdio'),
            args: ['--config', config],
            env: { PATH: process.env.PATH || '/usr/bin:/bin', RUST_LOG: 'warn', WARDEN_KEY: key },
        },
        close: async () => {
            await stop(child);
            await rm(dir, { recursive: true, force: true });
        },
    };
}

/** The text blocks of a result, joined. */
export function textOf(result) {
    return (result?.content ?? [])
        .filter((c) => c.type === 'text')
        .map((c) => c.text)
        .join('\n');
}

/**
 * What is wrong with `answer` (a result object, or `{ protocolError }`) for `step`: a list of
 * problems, empty when the answer is as expected. `canConfirm`: whether the client answers the
 * gateway's request to confirm a write (elicitation, or 2026-07-28 input); if not, a write that
 * needs one must be refused as `confirmation_unavailable`, and nothing else.
 */
export function problems(step, answer, { canConfirm }) {
    const out = [];
    const expect = step.confirm && !canConfirm ? { error: ['confirmation_unavailable'], text: ['confirm'] } : step.expect;
    if (answer.protocolError) {
        return [`a protocol error instead of an answer: ${JSON.stringify(answer.protocolError)}`];
    }
    const json = JSON.stringify(answer);
    const lower = json.toLowerCase();
    for (const value of SESSION.hidden) {
        if (lower.includes(value.toLowerCase())) out.push(`a hidden value leaks: ${value}`);
    }
    // Found as is (in structured content) or escaped (inside a text that holds JSON).
    const has = (part) => json.includes(part) || json.includes(JSON.stringify(part).slice(1, -1));
    for (const wanted of expect.contains ?? []) {
        if (!has(wanted)) out.push(`does not contain ${wanted}`);
    }
    for (const unwanted of expect.lacks ?? []) {
        if (has(unwanted)) out.push(`contains ${unwanted}`);
    }
    if (expect.tools) {
        const names = (answer.tools ?? []).map((t) => t.name).sort();
        if (JSON.stringify(names) !== JSON.stringify(expect.tools)) out.push(`tools ${names} instead of ${expect.tools}`);
    }
    if (expect.ok) {
        if (answer.isError === true) out.push(`failed: ${textOf(answer)}`);
        const structured = answer.structuredContent;
        if (typeof structured !== 'object' || structured === null) out.push('no structured content');
        const count = structured?.count;
        if (expect.count !== undefined && count !== expect.count) out.push(`count ${count} instead of ${expect.count}`);
        if (expect.count_min !== undefined && !(count >= expect.count_min)) out.push(`count ${count} below ${expect.count_min}`);
    }
    if (expect.error) {
        if (answer.isError !== true) out.push(`succeeded instead of failing: ${textOf(answer).slice(0, 300)}`);
        if (answer.structuredContent !== undefined) out.push('an error with structured content');
        const error = answer._meta?.[ERROR_META];
        if (!expect.error.includes(error?.kind)) out.push(`error kind ${error?.kind} instead of ${expect.error}`);
        const text = textOf(answer);
        if (!text.startsWith(`error (${error?.kind}): `)) out.push(`the text does not say what went wrong: ${text.slice(0, 200)}`);
        for (const part of expect.text ?? []) {
            if (!text.toLowerCase().includes(part.toLowerCase())) out.push(`the text does not mention ${part}: ${text.slice(0, 300)}`);
        }
    }
    return out;
}

/**
 * Runs `profile`'s steps through `client` (`{ listTools, listPrompts, listResourceTemplates,
 * getPrompt(name, args), readResource(uri), callTool(name, args) }`, each resolving to the
 * result object or throwing for a protocol error). Returns `{ passed, skipped, failures }`, with
 * one `"step: problem"` line per failure.
 */
export async function runSession(profile, client, { canConfirm }) {
    const steps = SESSION.profiles[profile];
    const report = { passed: 0, skipped: 0, failures: [] };
    for (const step of steps) {
        if (step.if_confirmed && !canConfirm) {
            report.skipped += 1;
            continue;
        }
        let answer;
        try {
            switch (step.op) {
                case 'list_tools':
                    answer = await client.listTools();
                    break;
                case 'list_prompts':
                    answer = await client.listPrompts();
                    break;
                case 'list_resource_templates':
                    answer = await client.listResourceTemplates();
                    break;
                case 'get_prompt':
                    answer = await client.getPrompt(step.prompt, step.arguments);
                    break;
                case 'read_resource':
                    answer = await client.readResource(step.uri);
                    break;
                case 'call':
                    answer = await client.callTool(step.tool, step.arguments);
                    break;
                default:
                    throw new Error(`unknown op ${step.op}`);
            }
        } catch (error) {
            answer = { protocolError: String(error?.message ?? error) };
        }
        const found = problems(step, answer, { canConfirm });
        if (found.length === 0) report.passed += 1;
        else report.failures.push(...found.map((p) => `${step.name}: ${p}`));
    }
    return report;
}
