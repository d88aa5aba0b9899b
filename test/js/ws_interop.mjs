// nats.js over WebSocket (wsconnect from @nats-io/nats-core, on the W3C
// WebSocket that Node.js provides: run with --experimental-websocket on
// Node.js 20, built in from 22) against a NATS server's WebSocket
// listener: wildcard pub/sub, a message larger than one WebSocket frame,
// queue groups, request/reply with headers, no-responders, and a request
// to a responder the Go test runs on the server's TCP port ("wsjs.go.svc",
// it answers "go:" + the request). Prints one "ok <check>" line per passed
// check and exits non-zero on the first failure.
// Usage: node --experimental-websocket ws_interop.mjs ws://127.0.0.1:8080
import { wsconnect, headers, Empty } from "@nats-io/nats-core";
import { coreChecks, fail, ok, withTimeout } from "./nats_checks.mjs";

const url = process.argv[2];

if (typeof globalThis.WebSocket !== "function") fail("no global WebSocket (Node.js 20 needs --experimental-websocket)");

try {
  const nc = await withTimeout(wsconnect({ servers: url, maxReconnectAttempts: 0, name: "nats.js-ws" }), 10000, "connect");
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  if (!url.endsWith("//" + nc.getServer())) fail("connected to " + nc.getServer());
  if (!nc.info?.server_id || nc.info.headers !== true) fail("INFO " + JSON.stringify(nc.info));
  ok("connect");

  await coreChecks(nc, "wsjs", { headers, Empty });

  // A 512 KiB message: more than one WebSocket frame either way.
  {
    const big = new Uint8Array(512 * 1024).map((_, i) => i % 251);
    const sub = nc.subscribe("wsjs.big", { max: 1 });
    const got = (async () => { for await (const m of sub) return m.data; })();
    await nc.flush();
    nc.publish("wsjs.big", big);
    const data = await withTimeout(got, 10000, "big message");
    if (data.length !== big.length || !data.every((b, i) => b === big[i])) fail("big message: " + data.length + " bytes, not the ones sent");
    ok("big message");
  }

  // A responder on the TCP port, in Go.
  {
    const r = await nc.request("wsjs.go.svc", enc.encode("from js"), { timeout: 5000 });
    if (dec.decode(r.data) !== "go:from js") fail("go responder got " + dec.decode(r.data));
    ok("tcp responder");
  }

  await nc.drain();
} catch (e) {
  fail(e.stack || String(e));
}
process.exit(0);
