// MQTT.js over WebSocket (ws://host:port/mqtt) against an MQTT broker:
// QoS 0, 1 and 2 delivered at the publish's QoS, a retained message given
// to a later subscriber, and a will published when a client's WebSocket
// dies without DISCONNECT (and not after a clean one). Prints one
// "ok <check>" line per passed check and exits non-zero on the first
// failure. Usage: node mqtt_ws.mjs ws://127.0.0.1:8080/mqtt [--v5]
import mqtt from "mqtt";

const url = process.argv[2];
const protocolVersion = process.argv.includes("--v5") ? 5 : 4;
const run = Math.random().toString(36).slice(2, 8); // topic and client id prefix
const fail = (msg) => { console.error("FAIL " + msg); process.exit(1); };
const ok = (msg) => console.log("ok " + msg);
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms).unref())]);

function connect(opts, onMessage) {
  const c = mqtt.connect(url, { protocolVersion, reconnectPeriod: 0, connectTimeout: 10000, ...opts });
  if (onMessage) c.on("message", onMessage);
  return withTimeout(new Promise((res, rej) => {
    c.once("connect", () => res(c));
    c.once("error", rej);
  }), 10000, "connect");
}

function collect(n) {
  const got = [];
  let done;
  const all = new Promise((res) => { done = res; });
  return {
    got,
    onMessage: (topic, payload, packet) => {
      got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain });
      if (got.length === n) done(got);
    },
    all: (what) => withTimeout(all, 10000, what + " (got " + JSON.stringify(got) + ")"),
  };
}

try {
  {
    const rx = collect(3);
    const sub = await connect({ clientId: run + "-sub" }, rx.onMessage);
    const granted = await sub.subscribeAsync(`ws/${run}/q/+`, { qos: 2 });
    if (granted[0].qos !== 2) fail("subscribe QoS 2 granted " + JSON.stringify(granted));
    const pub = await connect({ clientId: run + "-pub" });
    for (const qos of [0, 1, 2]) await pub.publishAsync(`ws/${run}/q/${qos}`, "qos" + qos, { qos });
    const got = await rx.all("qos 0 1 2");
    const s = got.map((m) => `${m.topic.split("/").pop()}:${m.qos}:${m.payload}`).join(",");
    if (s !== "0:0:qos0,1:1:qos1,2:2:qos2") fail("qos 0 1 2 got " + s);
    ok("qos 0 1 2");

    await pub.publishAsync(`ws/${run}/ret`, "kept", { qos: 1, retain: true });
    const rrx = collect(1);
    const late = await connect({ clientId: run + "-late" }, rrx.onMessage);
    await late.subscribeAsync(`ws/${run}/ret`, { qos: 1 });
    const [m] = await rrx.all("retained");
    if (m.payload !== "kept" || !m.retain || m.qos !== 1) fail("retained got " + JSON.stringify(m));
    await pub.publishAsync(`ws/${run}/ret`, "", { qos: 1, retain: true });
    ok("retained");
    await late.endAsync();

    const wrx = collect(1);
    const watch = await connect({ clientId: run + "-watch" }, wrx.onMessage);
    await watch.subscribeAsync(`ws/${run}/will/+`, { qos: 1 });
    const clean = await connect({ clientId: run + "-clean", will: { topic: `ws/${run}/will/clean`, payload: "must not come", qos: 1 } });
    await clean.endAsync();
    const dies = await connect({ clientId: run + "-dies", will: { topic: `ws/${run}/will/dies`, payload: "gone", qos: 1 } });
    dies.stream.destroy(); // the WebSocket goes without DISCONNECT
    const [w] = await wrx.all("will");
    if (w.topic !== `ws/${run}/will/dies` || w.payload !== "gone") fail("will watcher got " + JSON.stringify(w));
    ok("will");
    await watch.endAsync();
    await sub.endAsync();
    await pub.endAsync();
    dies.end(true);
  }
} catch (e) {
  fail(e.stack || String(e));
}
process.exit(0);
