// The realistic agent session of tests/agent-session/session.json, run by the official TypeScript
// SDK clients people embed — v1 (`@modelcontextprotocol/sdk` 1.32, what most desktop and IDE
// clients ship) and v2 (`@modelcontextprotocol/client`) — against `odoo-warden demo` over
// Streamable HTTP and against `odoo-warden-stdio` on the demo's configuration, in every era each
// client speaks: v1 knows only the legacy revisions (its newest is 2025-11-25), v2 both eras.
// Every error must reach the agent as a tool result it can read, and nothing hidden may leak.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';

import { SESSION, runSession, startDemo } from '../agent-session/session.mjs';

const CALL_MS = 20_000;
const TEST = { timeout: 120_000 };
const INFO = { name: 'odoo-warden-agent-session', version: '1.0.0' };
/** The person using the agent confirms every change the gateway asks about. */
const accept = async () => ({ action: 'accept', content: {} });

const demos = {};
before(async () => {
    demos['demo-reader'] = await startDemo('demo-reader');
    demos['demo-writer'] = await startDemo('demo-writer');
});
after(async () => {
    for (const demo of Object.values(demos)) await demo.close().catch(() => {});
});

/** The calls of runSession over a connected SDK client (v1 and v2 have the same methods). */
function ops(client) {
    const options = { timeout: CALL_MS };
    return {
        listTools: () => client.listTools({}, options),
        listPrompts: () => client.listPrompts({}, options),
        listResourceTemplates: () => client.listResourceTemplates({}, options),
        getPrompt: (name, args) => client.getPrompt({ name, arguments: args }, options),
        readResource: (uri) => client.readResource({ uri }, options),
        callTool: (name, args) => client.callTool({ name, arguments: args }, undefined, options),
    };
}

function opsV2(client) {
    const options = { timeout: CALL_MS };
    return { ...ops(client), callTool: (name, args) => client.callTool({ name, arguments: args }, options) };
}

const CLIENTS = [
    {
        name: 'TypeScript SDK v1 1.32',
        eras: ['legacy'],
        connect: async (transportName, demo) => {
            const client = new ClientV1(INFO, { capabilities: { elicitation: {} } });
            client.setRequestHandler(ElicitRequestSchema, accept);
            const transport =
                transportName === 'http'
                    ? new HttpV1(new URL(demo.url), { requestInit: { headers: { Authorization: `Bearer ${demo.key}` } } })
                    : new StdioV1({ ...demo.stdio, stderr: 'ignore' });
            await client.connect(transport, { timeout: CALL_MS });
            const close = async () => {
                if (transport.sessionId !== undefined) await transport.terminateSession().catch(() => {});
                await client.close();
            };
            // The v1 SDK knows no 2026-07-28: it asks for (and gets) 2025-11-25, its newest. Its
            // HTTP transport says which revision it negotiated; its stdio transport does not.
            const negotiated = transportName === 'http' ? transport.protocolVersion : undefined;
            return { ops: ops(client), version: client.getServerVersion(), close, negotiated };
        },
    },
    {
        name: 'TypeScript SDK v2',
        eras: ['legacy', '2026-07-28'],
        connect: async (transportName, demo, era) => {
            const options = era === '2026-07-28' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {};
            const client = new ClientV2(INFO, { ...options, capabilities: { elicitation: {} } });
            client.setRequestHandler('elicitation/create', accept);
            const transport =
                transportName === 'http'
                    ? new HttpV2(new URL(demo.url), { authProvider: { token: async () => demo.key } })
                    : new StdioV2({ ...demo.stdio, stderr: 'ignore' });
            await client.connect(transport, { timeout: CALL_MS });
            const close = async () => {
                if (transport.sessionId !== undefined) await transport.terminateSession().catch(() => {});
                await client.close();
            };
            return { ops: opsV2(client), version: client.getServerVersion(), close, era: client.getProtocolEra() };
        },
    },
];

const totals = [];
after(() => {
    // The matrix, for the log: client, transport, era, profile, steps passed (skipped).
    for (const row of totals) console.log(`# agent session: ${row}`);
});

for (const spec of CLIENTS) {
    for (const transportName of ['http', 'stdio']) {
        for (const era of spec.eras) {
            describe(`${spec.name} over ${transportName}, ${era}`, () => {
                for (const profile of Object.keys(SESSION.profiles)) {
                    test(`the ${profile} session: every answer readable, nothing hidden leaks`, TEST, async () => {
                        const session = await spec.connect(transportName, demos[profile], era);
                        try {
                            assert.equal(session.version?.name, 'odoo-warden');
                            if (spec.eras.length === 1 && transportName === 'http') {
                                assert.equal(session.negotiated, '2025-11-25');
                            }
                            if (session.era !== undefined) {
                                assert.equal(session.era, era === '2026-07-28' ? 'modern' : 'legacy');
                            }
                            const report = await runSession(profile, session.ops, { canConfirm: true });
                            totals.push(
                                `${spec.name} | ${transportName} | ${era} | ${profile} | ${report.passed} passed, ${report.skipped} skipped, ${report.failures.length} failed`,
                            );
                            assert.deepEqual(report.failures, []);
                            assert.equal(report.passed, SESSION.profiles[profile].length);
                        } finally {
                            await session.close().catch(() => {});
                        }
                    });
                }
            });
        }
    }
}
