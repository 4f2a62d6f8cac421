// End to end, the legacy sessions of `odoo-warden-http` as the official MCP TypeScript SDK v2
// client opens them: a session is bound to the key that opened it (another key presenting its
// id gets 404, whatever the method), DELETE ends it, and SIGTERM stops the gateway promptly even
// with a client connected. Raw `fetch` where the SDK has no way to misbehave on purpose.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

import { ERAS, REQUEST_MS, bounded, rawRequest, recordingFetch, sdkClient, startWorld, stop } from './harness.mjs';

const [LEGACY] = ERAS.filter((e) => e.era === 'legacy');
const TEST = { timeout: 60_000 };
const LIST_TOOLS = { jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} };

let world;
before(async () => {
    world = await startWorld();
});
after(async () => {
    await world?.close();
});

const sales = () => world.deployment.keys['sales-agent'];
const support = () => world.deployment.keys['support-bot'];

describe('legacy sessions', () => {
    test("another key presenting a session's id gets 404, and the session lives on", TEST, async () => {
        const owner = sdkClient(world.url, sales(), LEGACY);
        try {
            await owner.connect();
            const id = owner.transport.sessionId;
            assert.ok(id, 'initialize gave a session id');
            const version = owner.client.getNegotiatedProtocolVersion();
            const foreign = { 'mcp-session-id': id, 'mcp-protocol-version': version };

            // POST, GET and DELETE with the other key: all 404, the same answer as for an id
            // that never existed (nothing tells the other key the session is real).
            const post = await rawRequest(world.url, { key: support(), headers: foreign, body: LIST_TOOLS });
            assert.equal(post.status, 404, post.text);
            assert.equal(post.json?.jsonrpc, '2.0');
            assert.equal(post.json?.id, 7);
            assert.equal(post.json?.error?.code, -32600);
            const unknown = await rawRequest(world.url, {
                key: support(),
                headers: { ...foreign, 'mcp-session-id': 'f'.repeat(id.length) },
                body: LIST_TOOLS,
            });
            assert.equal(unknown.status, 404);
            assert.deepEqual(unknown.json, post.json);
            const get = await rawRequest(world.url, {
                method: 'GET',
                key: support(),
                headers: { ...foreign, accept: 'text/event-stream' },
            });
            assert.equal(get.status, 404, get.text);
            const del = await rawRequest(world.url, { method: 'DELETE', key: support(), headers: foreign });
            assert.equal(del.status, 404, del.text);

            // The SDK's own transport, given the foreign id, surfaces the same 404.
            const exchanges = [];
            const hijack = new StreamableHTTPClientTransport(new URL(world.url), {
                authProvider: { token: async () => support() },
                fetch: recordingFetch(exchanges),
                sessionId: id,
                protocolVersion: version,
            });
            await hijack.start();
            try {
                await assert.rejects(hijack.send(LIST_TOOLS), (error) => error?.data?.status === 404);
            } finally {
                await hijack.close();
            }
            assert.deepEqual(
                exchanges.map((e) => [e.method, e.status]),
                [['POST', 404]],
            );

            // None of that touched the owner's session.
            const { tools } = await owner.client.listTools({}, bounded());
            assert.ok(tools.some((t) => t.name === 'update_records'), 'still the sales profile');
            assert.equal(owner.transport.sessionId, id);
        } finally {
            await owner.close().catch(() => {});
        }
    });

    test('DELETE (terminateSession) ends a session: its id is then 404 for its own key', TEST, async () => {
        const owner = sdkClient(world.url, sales(), LEGACY);
        let id;
        let version;
        try {
            await owner.connect();
            id = owner.transport.sessionId;
            version = owner.client.getNegotiatedProtocolVersion();
            await owner.transport.terminateSession();
            assert.deepEqual(
                owner.exchanges.filter((e) => e.method === 'DELETE').map((e) => e.status),
                [204],
            );
            assert.equal(owner.transport.sessionId, undefined);
        } finally {
            await owner.client.close().catch(() => {});
        }
        const after = await rawRequest(world.url, {
            key: sales(),
            headers: { 'mcp-session-id': id, 'mcp-protocol-version': version },
            body: LIST_TOOLS,
        });
        assert.equal(after.status, 404, after.text);
        assert.equal(after.json?.error?.code, -32600);
    });

    // Last: it stops this file's gateway.
    test('SIGTERM with an SDK client connected (its GET stream open): the gateway exits 0 promptly', TEST, async () => {
        const client = sdkClient(world.url, support(), LEGACY);
        try {
            await client.connect();
            // The SDK opens the session's GET stream right after notifications/initialized.
            const deadline = Date.now() + REQUEST_MS;
            while (!client.exchanges.some((e) => e.method === 'GET') && Date.now() < deadline) {
                await new Promise((resolve) => setTimeout(resolve, 20));
            }
            assert.deepEqual(
                client.exchanges.filter((e) => e.method === 'GET').map((e) => e.status),
                [200],
            );
            const ended = await stop(world.gateway.process);
            assert.equal(ended.killed, false, 'SIGTERM was enough');
            assert.equal(ended.code, 0, JSON.stringify(ended));
            assert.ok(ended.ms < 10_000, `stopped in ${ended.ms} ms`);
        } finally {
            await client.client.close().catch(() => {});
        }
    });
});
