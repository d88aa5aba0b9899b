// nats.js over WebSocket (wsconnect from @nats-io/nats-core, on the W3C
// WebSocket that Node.js provides: run with --experimental-websocket on
// Node.js 20, built in from 22) against a NATS server's WebSocket
// listener: wildcard pub/sub, a message larger than one WebSocket frame,
// queue groups, request/reply with headers, no-responders, and a request
// to a responder the Go test runs on the server's TCP port ("wsjs.go.svc",
// it answers "go:" + the request). Prints one "ok <check>" line per passed
// check and exits non-zero on the first failure.
// Usage: node --experimental-websocket ws_interop.mjs ws://127.0.0.1:8080
import { wsconnect, headers, Empty, errors } from "@nats-io/nats-core";

const url = process.argv[2];
const fail = (msg) => { console.error("FAIL " + msg); process.exit(1); };
const ok = (msg) => console.log("ok " + msg);
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms).unref())]);

if (typeof globalThis.WebSocket !== "function") fail("no global WebSocket (Node.js 20 needs --experimental-websocket)");

try {
  const nc = await withTimeout(wsconnect({ servers: url, maxReconnectAttempts: 0, name: "nats.js-ws" }), 10000, "connect");
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  if (!url.endsWith("//" + nc.getServer())) fail("connected to " + nc.getServer());
  if (!nc.info?.server_id || nc.info.headers !== true) fail("INFO " + JSON.stringify(nc.info));
  ok("connect");

  // Wildcard subscription receives exactly what matches.
  {
    const sub = nc.subscribe("wsjs.*.temp", { max: 2 });
    const got = (async () => { const out = []; for await (const m of sub) out.push(m.subject + "=" + dec.decode(m.data)); return out; })();
    await nc.flush();
    nc.publish("wsjs.a.temp", enc.encode("1"));
    nc.publish("wsjs.a.hum", enc.encode("x"));
    nc.publish("wsjs.b.temp", enc.encode("2"));
    const out = await withTimeout(got, 5000, "wildcard");
    if (out.join(",") !== "wsjs.a.temp=1,wsjs.b.temp=2") fail("wildcard got " + out);
    ok("wildcard");
  }

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

  // Queue group: each message to exactly one member.
  {
    const counts = [0, 0, 0];
    const subs = counts.map((_, i) => nc.subscribe("wsjs.q", { queue: "workers", callback: () => { counts[i]++; } }));
    await nc.flush();
    for (let i = 0; i < 300; i++) nc.publish("wsjs.q", Empty);
    await nc.flush();
    const deadline = Date.now() + 5000;
    while (counts.reduce((a, b) => a + b, 0) < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    const total = counts.reduce((a, b) => a + b, 0);
    if (total !== 300) fail("queue group got " + total + " " + counts);
    subs.forEach((s) => s.unsubscribe());
    ok("queue group");
  }

  // Request/reply with headers.
  {
    nc.subscribe("wsjs.svc", { callback: (err, m) => {
      const h = headers();
      h.set("Echo", m.headers?.get("Trace") ?? "none");
      m.respond(enc.encode("re:" + dec.decode(m.data)), { headers: h });
    } });
    await nc.flush();
    const h = headers();
    h.set("Trace", "t-42");
    const r = await nc.request("wsjs.svc", enc.encode("hi"), { timeout: 5000, headers: h });
    if (dec.decode(r.data) !== "re:hi" || r.headers?.get("Echo") !== "t-42") fail("request/reply got " + dec.decode(r.data));
    ok("request/reply with headers");
  }

  // No responders.
  {
    try {
      await nc.request("wsjs.nobody", Empty, { timeout: 5000 });
      fail("request without responders succeeded");
    } catch (e) {
      const noResp = e instanceof errors.NoRespondersError || e?.cause instanceof errors.NoRespondersError ||
        String(e).includes("503") || String(e).toLowerCase().includes("no responders");
      if (!noResp) fail("no responders: " + e);
    }
    ok("no responders");
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
