// Checks any nats.js connection must pass, whatever its transport (the
// Node transport in interop.mjs, WebSocket in ws_interop.mjs): wildcard
// pub/sub, queue groups, request/reply with headers, no-responders. Each
// subject starts with prefix. headers and Empty come from the caller's
// nats.js package.
export const fail = (msg) => { console.error("FAIL " + msg); process.exit(1); };
export const ok = (msg) => console.log("ok " + msg);
export const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms).unref())]);

const enc = new TextEncoder();
const dec = new TextDecoder();

export async function coreChecks(nc, prefix, { headers, Empty }) {
  // Wildcard subscription receives exactly what matches.
  {
    const sub = nc.subscribe(prefix + ".*.temp", { max: 2 });
    const got = (async () => { const out = []; for await (const m of sub) out.push(m.subject + "=" + dec.decode(m.data)); return out; })();
    await nc.flush();
    nc.publish(prefix + ".a.temp", enc.encode("1"));
    nc.publish(prefix + ".a.hum", enc.encode("x"));
    nc.publish(prefix + ".b.temp", enc.encode("2"));
    const out = await withTimeout(got, 5000, "wildcard");
    if (out.join(",") !== `${prefix}.a.temp=1,${prefix}.b.temp=2`) fail("wildcard got " + out);
    ok("wildcard");
  }

  // Queue group: each message to exactly one member.
  {
    const counts = [0, 0, 0];
    const subs = counts.map((_, i) => nc.subscribe(prefix + ".q", { queue: "workers", callback: () => { counts[i]++; } }));
    await nc.flush();
    for (let i = 0; i < 300; i++) nc.publish(prefix + ".q", Empty);
    await nc.flush();
    const sum = () => counts.reduce((a, b) => a + b, 0);
    const deadline = Date.now() + 5000;
    while (sum() < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100)); // and no more than once
    if (sum() !== 300) fail("queue group got " + sum() + " " + counts);
    subs.forEach((s) => s.unsubscribe());
    ok("queue group");
  }

  // Request/reply with headers.
  {
    nc.subscribe(prefix + ".svc", { callback: (err, m) => {
      const h = headers();
      h.set("Echo", m.headers?.get("Trace") ?? "none");
      m.respond(enc.encode("re:" + dec.decode(m.data)), { headers: h });
    } });
    await nc.flush();
    const h = headers();
    h.set("Trace", "t-42");
    const r = await nc.request(prefix + ".svc", enc.encode("hi"), { timeout: 5000, headers: h });
    if (dec.decode(r.data) !== "re:hi" || r.headers?.get("Echo") !== "t-42") fail("request/reply got " + dec.decode(r.data));
    ok("request/reply with headers");
  }

  // No responders.
  {
    try {
      await nc.request(prefix + ".nobody", Empty, { timeout: 5000 });
      fail("request without responders succeeded");
    } catch (err) {
      const s = String(err?.message ?? err) + " " + String(err?.code ?? "") + " " + String(err?.cause ?? "") +
        " " + String(err?.name ?? "") + " " + String(err?.cause?.name ?? "");
      if (!/503|no ?responders/i.test(s)) fail("no responders error was " + s);
    }
    ok("no responders");
  }
}
