#!/usr/bin/env node
// Check the signature of an odoo-warden audit webhook request (Node's `crypto` only).
//
//     WARDEN_WEBHOOK_SECRET=... node receiver.mjs "$X_WARDEN_SIGNATURE" < body.json
//
// exits 0 if the signature is valid and recent, 1 if not, 2 on a usage error. In a web framework,
// call verify() with the raw request body (the exact bytes received, never re-encoded JSON).

import { createHmac, timingSafeEqual } from "node:crypto";
import { pathToFileURL } from "node:url";

export const TOLERANCE_S = 300;

/** Whether `header` (X-Warden-Signature: t=<unix seconds>,v1=<hex>[,v1=...]) signs `body`. */
export function verify(secret, header, body, now, tolerance = TOLERANCE_S) {
  let timestamp = null;
  const signatures = [];
  for (const item of header.split(",")) {
    const part = item.trim();
    const eq = part.indexOf("=");
    if (eq < 0) return false;
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (key === "t") {
      if (timestamp !== null || !/^[0-9]+$/.test(value)) return false;
      timestamp = value;
    } else if (key === "v1" && /^[0-9a-fA-F]{64}$/.test(value)) {
      signatures.push(Buffer.from(value, "hex"));
    }
  }
  if (timestamp === null || signatures.length === 0) return false;
  const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest();
  let matched = false;
  for (const signature of signatures) {
    matched = timingSafeEqual(expected, signature) || matched;
  }
  const seconds = Number(timestamp);
  return matched && Number.isSafeInteger(seconds) && Math.abs(now - seconds) <= tolerance;
}

async function main() {
  const secret = process.env.WARDEN_WEBHOOK_SECRET;
  if (!secret || process.argv.length !== 3) {
    console.error("usage: WARDEN_WEBHOOK_SECRET=... node receiver.mjs SIGNATURE_HEADER < BODY");
    return 2;
  }
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const now = Math.floor(Date.now() / 1000);
  if (verify(Buffer.from(secret, "utf8"), process.argv[2], Buffer.concat(chunks), now)) return 0;
  console.error("invalid signature");
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
