// End to end, with the official MCP TypeScript SDK v2 client over Streamable HTTP: two keys of
// different profiles (tests/e2e/test_policy_e2e.py's `sales` and `support`) drive
// `odoo-warden-http` against the simulator and see different worlds; a hidden field asked by
// name is a tool error; a wrong key is refused with 401. In both protocol eras.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { ProtocolError, UnauthorizedError } from '@modelcontextprotocol/client';

import { ERAS, ERROR_META, binary, bounded, newKey, sdkClient, startWorld, stop, structured, textOf, withClient } from './harness.mjs';

const READ_TOOLS = [
    'aggregate_records',
    'count_records',
    'describe_model',
    'find_by_name',
    'list_models',
    'read_records',
    'search_records',
];
// Deco Addict (res.partner 10): its email and phone, which the sales profile may not see.
const DECO_EMAIL = 'info@agrolait.com';
const DECO_PHONE = '(603)-996-3829';
const DECO_QUERY = { model: 'res.partner', domain: "[('id', '=', 10)]" };
// The SDK's code for a JSON-RPC error of the 2026-07-28 revision: headers not matching the body.
const HEADER_MISMATCH = -32020;
const TEST = { timeout: 60_000 };

let world;
before(async () => {
    world = await startWorld();
});
after(async () => {
    await world?.close();
});

const sales = () => world.deployment.keys['sales-agent'];
const support = () => world.deployment.keys['support-bot'];

for (const era of ERAS) {
    describe(`era ${era.name}`, () => {
        test('the SDK negotiates the era it was asked for', TEST, async () => {
            await withClient(world.url, sales(), era, async ({ client, transport, exchanges }) => {
                assert.equal(client.getProtocolEra(), era.era);
                assert.equal(client.getServerVersion()?.name, 'odoo-warden');
                if (era.era === 'legacy') {
                    assert.notEqual(client.getNegotiatedProtocolVersion(), '2026-07-28');
                    assert.match(transport.sessionId ?? '', /\S{16,}/, 'initialize gives a session id');
                    assert.equal(exchanges[0].sent.get('mcp-protocol-version'), null, 'initialize names no version header');
                } else {
                    assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
                    assert.equal(transport.sessionId, undefined, '2026-07-28 is stateless');
                    assert.equal(exchanges[0].sent.get('mcp-method'), 'server/discover');
                    assert.equal(exchanges[0].headers.get('mcp-session-id'), null);
                }
            });
        });

        test('each key lists the tools of its profile', TEST, async () => {
            const names = async (key) =>
                withClient(world.url, key, era, async ({ client }) =>
                    (await client.listTools({}, bounded())).tools.map((t) => t.name).sort(),
                );
            // Only sales may change anything (sale.order notes), and only by update.
            assert.deepEqual(await names(sales()), [...READ_TOOLS, 'update_records'].sort());
            assert.deepEqual(await names(support()), READ_TOOLS);
        });

        test('search_records on res.partner: sales does not get email, support does', TEST, async () => {
            const search = (key) =>
                withClient(world.url, key, era, ({ client }) =>
                    client.callTool({ name: 'search_records', arguments: DECO_QUERY }, bounded()),
                );
            const salesResult = await search(sales());
            const supportResult = await search(support());
            assert.notEqual(salesResult.isError, true, textOf(salesResult));
            assert.notEqual(supportResult.isError, true, textOf(supportResult));
            const [salesRow, ...moreSales] = structured(salesResult).records;
            const [supportRow, ...moreSupport] = structured(supportResult).records;
            assert.deepEqual([moreSales, moreSupport], [[], []]);
            assert.equal(salesRow.name, 'Deco Addict');
            assert.equal(supportRow.name, 'Deco Addict');
            assert.ok(!('email' in salesRow) && !('phone' in salesRow), JSON.stringify(salesRow));
            assert.ok(!JSON.stringify(salesResult).includes(DECO_EMAIL), 'the email is nowhere in the answer');
            assert.ok(!JSON.stringify(salesResult).includes(DECO_PHONE), 'the phone is nowhere in the answer');
            assert.equal(supportRow.email, DECO_EMAIL);
        });

        test('a hidden field asked for by name is a tool error, not an empty column', TEST, async () => {
            await withClient(world.url, sales(), era, async ({ client }) => {
                const result = await client.callTool(
                    { name: 'search_records', arguments: { ...DECO_QUERY, fields: ['email'] } },
                    bounded(),
                );
                assert.equal(result.isError, true, JSON.stringify(result));
                assert.equal(result.structuredContent, undefined, 'an error has no structured content');
                const { kind } = result._meta[ERROR_META];
                assert.ok(['invalid_arguments', 'forbidden'].includes(kind), kind);
                assert.match(textOf(result), /email/);
                assert.ok(!JSON.stringify(result).includes(DECO_EMAIL));
                // The refusal is an answer, not a broken connection: the next call works.
                const ok = await client.callTool(
                    { name: 'search_records', arguments: { ...DECO_QUERY, fields: ['name'] } },
                    bounded(),
                );
                assert.notEqual(ok.isError, true, textOf(ok));
                assert.deepEqual(
                    structured(ok).records.map((r) => r.name),
                    ['Deco Addict'],
                );
            });
        });

        test('resources: a visible record without its hidden fields; a hidden model is not found', TEST, async () => {
            await withClient(world.url, sales(), era, async ({ client }) => {
                const record = await client.readResource({ uri: 'odoo://res.partner/10' }, bounded());
                const text = record.contents.map((c) => c.text).join('\n');
                assert.match(text, /Deco Addict/);
                assert.ok(!text.includes(DECO_EMAIL) && !text.includes(DECO_PHONE), text);
            });
            await withClient(world.url, support(), era, async ({ client }) => {
                await assert.rejects(
                    client.readResource({ uri: 'odoo://sale.order/1' }, bounded()),
                    (error) => error instanceof ProtocolError && error.code === -32002,
                );
            });
        });

        test('a wrong key fails to connect with 401 invalid_token', TEST, async () => {
            // Shaped like a real key, but not in the key store.
            const session = sdkClient(world.url, newKey('intruder', 'sales').secret, era);
            try {
                await assert.rejects(session.connect(), UnauthorizedError);
            } finally {
                await session.client.close().catch(() => {});
            }
            assert.equal(session.exchanges.length, 1, 'one request, no retry');
            const [refused] = session.exchanges;
            assert.equal(refused.method, 'POST');
            assert.equal(refused.status, 401);
            assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/);
            assert.equal(refused.headers.get('mcp-session-id'), null);
            assert.equal(session.transport.sessionId, undefined);
        });

        test('no key at all fails to connect with 401 and a Bearer challenge', TEST, async () => {
            const session = sdkClient(world.url, undefined, era);
            try {
                // Without an auth provider the SDK reports the 401 as an HTTP error with its status.
                await assert.rejects(session.connect(), (error) => error?.data?.status === 401);
            } finally {
                await session.client.close().catch(() => {});
            }
            const [refused] = session.exchanges;
            assert.equal(refused.status, 401);
            const challenge = refused.headers.get('www-authenticate') ?? '';
            assert.match(challenge, /^Bearer realm="odoo-warden"/);
            assert.doesNotMatch(challenge, /invalid_token/, 'no token is not an invalid token');
        });
    });
}

describe('version negotiation', () => {
    test("'auto' probes with server/discover and settles on 2026-07-28", TEST, async () => {
        const auto = { name: 'auto', era: 'modern', options: { versionNegotiation: { mode: 'auto' } } };
        await withClient(world.url, support(), auto, async ({ client, exchanges }) => {
            assert.equal(client.getProtocolEra(), 'modern');
            assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
            assert.deepEqual(
                exchanges.map((e) => e.sent.get('mcp-method')),
                ['server/discover'],
                'no initialize after a definitive discover',
            );
            const count = await client.callTool(
                { name: 'count_records', arguments: { model: 'res.partner', domain: "[('email', 'ilike', 'agrolait')]" } },
                bounded(),
            );
            assert.notEqual(count.isError, true, textOf(count));
            assert.ok(structured(count).count >= 1);
        });
    });

    test('2026-07-28: every request carries headers that match its body', TEST, async () => {
        const [modern] = ERAS.filter((e) => e.era === 'modern');
        await withClient(world.url, sales(), modern, async ({ client, exchanges }) => {
            await client.listTools({}, bounded());
            await client.callTool({ name: 'count_records', arguments: { model: 'res.partner', domain: '[]' } }, bounded());
            await client.readResource({ uri: 'odoo://res.partner/10' }, bounded());
            const seen = exchanges.map((e) => [
                e.status,
                e.sent.get('mcp-protocol-version'),
                e.sent.get('mcp-method'),
                e.sent.get('mcp-name'),
            ]);
            assert.deepEqual(seen, [
                [200, '2026-07-28', 'server/discover', null],
                [200, '2026-07-28', 'tools/list', null],
                [200, '2026-07-28', 'tools/call', 'count_records'],
                [200, '2026-07-28', 'resources/read', 'odoo://res.partner/10'],
            ]);
        });
    });

    test('2026-07-28: an Mcp-Name that does not match the body is refused (-32020)', TEST, async () => {
        const [modern] = ERAS.filter((e) => e.era === 'modern');
        // A proxy (here: the fetch) that rewrites Mcp-Name on the way.
        const session = sdkClient(world.url, sales(), modern, {
            rewrite: (headers) => {
                if (headers.get('mcp-name') === 'search_records') headers.set('mcp-name', 'count_records');
            },
        });
        try {
            await session.connect();
            await assert.rejects(
                session.client.callTool({ name: 'search_records', arguments: DECO_QUERY }, bounded()),
                (error) => error instanceof ProtocolError && error.code === HEADER_MISMATCH && /Mcp-Name/.test(error.message),
            );
        } finally {
            await session.close().catch(() => {});
        }
        const refused = session.exchanges.filter((e) => e.sent.get('mcp-method') === 'tools/call');
        assert.ok(refused.length >= 1);
        assert.ok(refused.every((e) => e.status === 400), JSON.stringify(refused.map((e) => e.status)));
    });
});

// Last: it stops this file's gateway, so that the audit log is flushed and closed.
describe('audit', () => {
    test('the calls of both eras are in the audit log as http, and its chain verifies', TEST, async () => {
        const ended = await stop(world.gateway.process);
        assert.deepEqual([ended.code, ended.killed], [0, false], JSON.stringify(ended));
        const folder = path.join(path.dirname(world.deployment.path), 'audit');
        const events = [];
        for (const file of (await readdir(folder)).filter((f) => f.endsWith('.jsonl')).sort()) {
            for (const line of (await readFile(path.join(folder, file), 'utf8')).split('\n')) {
                if (line.trim()) events.push(JSON.parse(line));
            }
        }
        const requests = events.filter((e) => e.kind === 'request');
        const calls = requests.filter((e) => e.tool === 'search_records' && e.key_name === 'sales-agent');
        for (const era of ERAS) {
            const mine = calls.filter((e) => (e.protocol === '2026-07-28') === (era.era === 'modern'));
            assert.ok(mine.some((e) => e.outcome?.status === 'ok'), `${era.name}: an allowed search`);
            // Asking for a field the profile hides is a denial with the rule that hides it.
            assert.ok(
                mine.some((e) => e.decision?.verdict === 'deny' && /fields\.read\.deny "email"/.test(e.decision?.rule ?? '')),
                `${era.name}: the refused search`,
            );
        }
        for (const event of calls) {
            assert.equal(event.transport, 'http', JSON.stringify(event));
            assert.equal(event.profile, 'sales');
            assert.equal(event.odoo_user, 'sales_agent');
            assert.equal(event.client_ip, '127.0.0.1');
        }
        // The wrong keys (one per era) are recorded as failed authentications.
        const failed = requests.filter((e) => e.method === 'authenticate' && e.outcome?.status === 'error');
        assert.ok(failed.length >= ERAS.length, JSON.stringify(failed));
        // No secret and no hidden value in the log.
        const text = JSON.stringify(events);
        for (const secret of [...Object.values(world.deployment.keys), DECO_EMAIL, DECO_PHONE]) {
            assert.ok(!text.includes(secret), `the audit log holds ${secret}`);
        }
        const verify = await promisify(execFile)(binary('odoo-warden'), ['audit', 'verify', folder], { timeout: 30_000 });
        assert.match(verify.stdout, /^ok: \d+ events verified/m);
    });
});
