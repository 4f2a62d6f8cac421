// End to end, a fleet as the official TypeScript SDK clients meet it: three odoo-warden-http
// replicas behind HAProxy (round robin, nothing sticky) sharing their state on a real
// redis-server. With the v2 client in both eras and the v1 client (legacy), a session goes on
// whichever replica each request reaches. Needs Debian's redis-server and haproxy (.ci/run
// installs them): without them the tests are skipped, except under CI=true, where they fail.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { CALL_MS, ERAS, bounded, policyConfig, startGateway, startSim, stop, textOf, withClient, writeDeployment } from './harness.mjs';

const REDIS = '/usr/bin/redis-server';
const HAPROXY = '/usr/sbin/haproxy';
const TEST = { timeout: 90_000 };
const CONFIRMATION_KEY = '7c2e9a4f0b6d1e3a8c5f2b9d0e7a4c1f6b3d8e2a5c0f9b7d4e1a6c3f8b2d5e0a';
const SEARCH = { model: 'res.partner', domain: [['is_company', '=', true]], fields: ['name'], limit: 3 };

const missing = [REDIS, HAPROXY].filter((p) => !existsSync(p));
if (missing.length && process.env.CI === 'true') throw new Error(`CI=true and missing: ${missing.join(', ')}`);
const skip = missing.length ? `not installed: ${missing.join(', ')}` : false;

async function freePort() {
    const server = createServer();
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    await new Promise((resolve) => server.close(resolve));
    return port;
}

async function waitPort(port) {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
        const up = await new Promise((resolve) => {
            const socket = connect(port, '127.0.0.1', () => {
                socket.end();
                resolve(true);
            });
            socket.on('error', () => resolve(false));
        });
        if (up) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`nothing listens on ${port}`);
}

const world = { children: [], dir: undefined, url: undefined, key: undefined };

before(async () => {
    if (skip) return;
    world.dir = await mkdtemp(path.join(tmpdir(), 'warden-e2e-fleet-'));
    const sim = await startSim();
    world.children.push(sim.process);
    const redisPort = await freePort();
    const redis = spawn(REDIS, ['--bind', '127.0.0.1', '--port', String(redisPort), '--save', '', '--appendonly', 'no', '--dir', world.dir], { stdio: 'ignore' });
    world.children.push(redis);
    await waitPort(redisPort);
    const config = `${policyConfig(sim.url)}
[cluster]
redis_url = "redis://127.0.0.1:${redisPort}"
confirmation_key_env = "WARDEN_CONFIRMATION_KEY"
# A loaded 2-core test machine: a slow answer is not an outage.
timeout_ms = 2000
`;
    const deployment = await writeDeployment(path.join(world.dir, 'fleet'), config, [['sales-agent', 'sales', {}]]);
    world.key = deployment.keys['sales-agent'];
    const backends = [];
    for (let n = 0; n < 3; n += 1) {
        const gateway = await startGateway(deployment.path, {
            ODOO_SALES_KEY: sim.apiKeys.sales_agent,
            ODOO_SUPPORT_KEY: sim.apiKeys.readonly_bot,
            WARDEN_CONFIRMATION_KEY: CONFIRMATION_KEY,
        });
        world.children.push(gateway.process);
        backends.push(new URL(gateway.url).host);
    }
    const port = await freePort();
    const cfg = path.join(world.dir, 'haproxy.cfg');
    await writeFile(
        cfg,
        'defaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n' +
            `frontend mcp\n  bind 127.0.0.1:${port}\n  default_backend replicas\n` +
            'backend replicas\n  balance roundrobin\n' +
            backends.map((addr, n) => `  server replica${n} ${addr}\n`).join(''),
    );
    const haproxy = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: 'ignore' });
    world.children.push(haproxy);
    await waitPort(port);
    world.url = `http://127.0.0.1:${port}/mcp`;
});

after(async () => {
    for (const child of world.children.reverse()) await stop(child).catch(() => {});
    if (world.dir) await rm(world.dir, { recursive: true, force: true });
});

describe('a fleet behind a round-robin balancer', { skip }, () => {
    for (const era of ERAS) {
        test(`v2 client, ${era.name}: six calls over three replicas, one session`, TEST, async () => {
            await withClient(world.url, world.key, era, async ({ client }) => {
                const tools = (await client.listTools({}, bounded())).tools.map((t) => t.name);
                assert.ok(tools.includes('search_records'));
                for (let n = 0; n < 6; n += 1) {
                    const result = await client.callTool({ name: 'search_records', arguments: SEARCH }, bounded());
                    assert.notEqual(result.isError, true, `call ${n}: ${textOf(result)}`);
                }
            });
        });
    }

    test('v1 client, legacy: six calls over three replicas, one session', TEST, async () => {
        const client = new ClientV1({ name: 'odoo-warden-e2e-fleet', version: '1.0.0' });
        const transport = new HttpV1(new URL(world.url), { requestInit: { headers: { Authorization: `Bearer ${world.key}` } } });
        await client.connect(transport, { timeout: CALL_MS });
        try {
            assert.ok(transport.sessionId, 'a legacy session');
            for (let n = 0; n < 6; n += 1) {
                const result = await client.callTool({ name: 'search_records', arguments: SEARCH }, undefined, { timeout: CALL_MS });
                assert.notEqual(result.isError, true, `call ${n}: ${JSON.stringify(result.content)}`);
            }
        } finally {
            await transport.terminateSession().catch(() => {});
            await client.close();
        }
    });
});
