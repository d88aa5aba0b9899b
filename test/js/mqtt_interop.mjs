// MQTT.js against an MQTT broker: QoS 0 and QoS 1 publish/subscribe, a
// multi-level wildcard that matches its parent level, and a persistent
// session that queues QoS 1 messages while its client is away; with --v5
// also MQTT 5.0 user properties and content type. Prints one "ok <check>"
// line per passed check and exits non-zero on the first failure.
// Usage: node mqtt_interop.mjs mqtt://127.0.0.1:1883 [--v5]
import mqtt from "mqtt";

const url = process.argv[2];
const v5 = process.argv.includes("--v5");
const protocolVersion = v5 ? 5 : 4;
const run = Math.random().toString(36).slice(2, 8); // topic and client id prefix
const fail = (msg) => { console.error("FAIL " + msg); process.exit(1); };
const ok = (msg) => console.log("ok " + msg);
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms).unref())]);

// connect resolves with the client and its CONNACK once connected. Handlers
// passed in are attached before the CONNACK can arrive.
function connect(opts, onMessage) {
  const c = mqtt.connect(url, { protocolVersion, reconnectPeriod: 0, connectTimeout: 10000, ...opts });
  if (onMessage) c.on("message", onMessage);
  return withTimeout(new Promise((res, rej) => {
    c.once("connect", (connack) => res({ c, connack }));
    c.once("error", rej);
  }), 10000, "connect");
}

// collect returns a message handler and a promise of the first n messages.
function collect(n) {
  const got = [];
  let done;
  const all = new Promise((res) => { done = res; });
  return {
    onMessage: (topic, payload, packet) => {
      got.push({ topic, payload: payload.toString(), qos: packet.qos, props: packet.properties });
      if (got.length === n) done(got);
    },
    all: (what) => withTimeout(all, 10000, what + " (got " + got.length + " of " + n + ")"),
  };
}

try {
  // QoS 1 and QoS 0 through a single-level wildcard, in order.
  {
    const rx = collect(11);
    const { c: sub } = await connect({ clientId: run + "-sub" }, rx.onMessage);
    await sub.subscribeAsync(`js/${run}/+`, { qos: 1 });
    const { c: pub } = await connect({ clientId: run + "-pub" });
    for (let i = 0; i < 10; i++) await pub.publishAsync(`js/${run}/a`, "m" + i, { qos: 1 });
    await pub.publishAsync(`js/${run}/b`, "zero", { qos: 0 });
    const got = await rx.all("qos1");
    const q1 = got.filter((m) => m.topic === `js/${run}/a`);
    if (q1.map((m) => m.payload).join(",") !== "m0,m1,m2,m3,m4,m5,m6,m7,m8,m9") fail("qos1 got " + JSON.stringify(q1));
    if (!q1.every((m) => m.qos === 1)) fail("qos1 delivered at qos " + q1.map((m) => m.qos));
    ok("qos1 round trip");
    const q0 = got.find((m) => m.topic === `js/${run}/b`);
    if (!q0 || q0.payload !== "zero" || q0.qos !== 0) fail("qos0 got " + JSON.stringify(q0));
    ok("qos0");
    await sub.endAsync();
    await pub.endAsync();
  }

  // "#" matches the parent level too [MQTT-4.7.1-2].
  {
    const rx = collect(2);
    const { c } = await connect({ clientId: run + "-wild" }, rx.onMessage);
    await c.subscribeAsync(`js/${run}/wild/#`, { qos: 0 });
    await c.publishAsync(`js/${run}/wild`, "parent", { qos: 1 });
    await c.publishAsync(`js/${run}/wild/x/y`, "child", { qos: 1 });
    const got = await rx.all("wildcard");
    if (got.map((m) => m.payload).sort().join(",") !== "child,parent") fail("wildcard got " + JSON.stringify(got));
    ok("multi-level wildcard");
    await c.endAsync();
  }

  // A persistent session keeps its subscription and queues QoS 1 messages
  // while its client is away.
  {
    const clientId = run + "-persist";
    const sessOpts = v5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
    const first = await connect({ clientId, ...sessOpts });
    await first.c.subscribeAsync(`js/${run}/sess`, { qos: 1 });
    await first.c.endAsync();
    const { c: pub } = await connect({ clientId: run + "-sesspub" });
    await pub.publishAsync(`js/${run}/sess`, "while away", { qos: 1 });
    await pub.endAsync();
    const rx = collect(1);
    const again = await connect({ clientId, ...sessOpts }, rx.onMessage);
    if (!again.connack.sessionPresent) fail("session not present on reconnect");
    const got = await rx.all("queued message");
    if (got[0].payload !== "while away" || got[0].qos !== 1) fail("queued got " + JSON.stringify(got));
    ok("persistent session");
    await again.c.endAsync();
    // Clean the session up.
    const { c: clean } = await connect({ clientId, clean: true });
    await clean.endAsync();
  }

  if (v5) {
    const rx = collect(1);
    const { c } = await connect({ clientId: run + "-v5" }, rx.onMessage);
    await c.subscribeAsync(`js/${run}/v5`, { qos: 1 });
    await c.publishAsync(`js/${run}/v5`, "{}", {
      qos: 1,
      properties: { userProperties: { k: "v" }, contentType: "application/json" },
    });
    const [m] = await rx.all("v5 properties");
    if (m.props?.contentType !== "application/json" || m.props?.userProperties?.k !== "v") fail("v5 properties got " + JSON.stringify(m.props));
    ok("v5 properties");
    await c.endAsync();
  }
} catch (e) {
  fail(e.stack || String(e));
}
process.exit(0);
