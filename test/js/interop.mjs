// nats.js (Node transport) against a NATS server: pub/sub with wildcards,
// queue groups, request/reply, headers and no-responders. Prints one
// "ok <check>" line per passed check and exits non-zero on the first
// failure. Usage: node interop.mjs nats://127.0.0.1:4222
import { connect, headers, Empty } from "@nats-io/transport-node";

const url = process.argv[2];
const fail = (msg) => { console.error("FAIL " + msg); process.exit(1); };
const ok = (msg) => console.log("ok " + msg);
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms).unref())]);

const nc = await connect({ servers: url, maxReconnectAttempts: 0 });
const enc = new TextEncoder();
const dec = new TextDecoder();

// Wildcard subscription receives exactly what matches.
{
  const sub = nc.subscribe("js.*.temp", { max: 2 });
  const got = (async () => { const out = []; for await (const m of sub) out.push(m.subject + "=" + dec.decode(m.data)); return out; })();
  await nc.flush();
  nc.publish("js.a.temp", enc.encode("1"));
  nc.publish("js.a.hum", enc.encode("x"));
  nc.publish("js.b.temp", enc.encode("2"));
  const out = await withTimeout(got, 5000, "wildcard");
  if (out.join(",") !== "js.a.temp=1,js.b.temp=2") fail("wildcard got " + out);
  ok("wildcard");
}

// Queue group: each message to exactly one member.
{
  const counts = [0, 0, 0];
  const subs = counts.map((_, i) => nc.subscribe("js.q", { queue: "workers", callback: () => { counts[i]++; } }));
  await nc.flush();
  for (let i = 0; i < 300; i++) nc.publish("js.q", Empty);
  await nc.flush();
  await new Promise((r) => setTimeout(r, 300));
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== 300) fail("queue group got " + total);
  subs.forEach((s) => s.unsubscribe());
  ok("queue group");
}

// Request/reply with headers.
{
  nc.subscribe("js.svc", { callback: (err, m) => {
    const h = headers();
    h.set("Echo", m.headers?.get("Trace") ?? "none");
    m.respond(enc.encode("re:" + dec.decode(m.data)), { headers: h });
  } });
  await nc.flush();
  const h = headers();
  h.set("Trace", "t-42");
  const r = await nc.request("js.svc", enc.encode("hi"), { timeout: 5000, headers: h });
  if (dec.decode(r.data) !== "re:hi" || r.headers?.get("Echo") !== "t-42") fail("request/reply got " + dec.decode(r.data));
  ok("request/reply with headers");
}

// No responders.
{
  try {
    await nc.request("js.nobody", Empty, { timeout: 5000 });
    fail("request without responders succeeded");
  } catch (err) {
    const s = String(err?.message ?? err) + " " + String(err?.code ?? "") + " " + String(err?.cause ?? "");
    if (!/503|no responders/i.test(s)) fail("no responders error was " + s);
  }
  ok("no responders");
}

const info = nc.info;
if (!info || info.proto !== 1 || !info.headers) fail("INFO " + JSON.stringify(info));
ok("info");
await nc.drain();
