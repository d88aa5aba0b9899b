// MQTT.js talking to a NATS client through leafgate. The Go test
// (test/e2e TestMQTTLeafgateMQTTJSWithNATS) runs a nats.go client that
// answers "<prefix>.up" by publishing "echo:<payload>" with header
// "Hop: nats" to "<prefix>.down", and replies to requests on
// "<prefix>.svc" with "answer:<payload>". This script:
//   - publishes "<prefix>/up" at QoS 1 and expects "<prefix>/down" back
//     at QoS 1 (with the header as a user property in 5.0);
//   - with --v5, sends a request on "<prefix>/svc" with a Response Topic
//     and Correlation Data and expects the NATS reply on the Response
//     Topic with the same Correlation Data.
// Prints one "ok <check>" line per passed check and exits non-zero on the
// first failure.
// Usage: node mqtt_nats.mjs mqtt://127.0.0.1:1883 <prefix> [--v5]
import mqtt from "mqtt";

const url = process.argv[2];
const prefix = process.argv[3];
const v5 = process.argv.includes("--v5");
const fail = (msg) => { console.error("FAIL " + msg); process.exit(1); };
const ok = (msg) => console.log("ok " + msg);
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms).unref())]);

// next resolves with the first message on topic.
function next(c, topic) {
  return withTimeout(new Promise((res) => {
    const h = (t, payload, packet) => {
      if (t !== topic) return;
      c.removeListener("message", h);
      res({ payload: payload.toString(), qos: packet.qos, props: packet.properties });
    };
    c.on("message", h);
  }), 10000, "message on " + topic);
}

try {
  const c = mqtt.connect(url, { protocolVersion: v5 ? 5 : 4, clientId: prefix + (v5 ? "-v5" : "-v3"), reconnectPeriod: 0, connectTimeout: 10000 });
  await withTimeout(new Promise((res, rej) => { c.once("connect", res); c.once("error", rej); }), 10000, "connect");

  await c.subscribeAsync(`${prefix}/down`, { qos: 1 });
  const down = next(c, `${prefix}/down`);
  await c.publishAsync(`${prefix}/up`, "hello", { qos: 1 });
  const m = await down;
  if (m.payload !== "echo:hello" || m.qos !== 1) fail("round trip got " + JSON.stringify(m));
  if (v5 && m.props?.userProperties?.Hop !== "nats") fail("NATS header not a user property: " + JSON.stringify(m.props));
  ok("round trip through nats");

  if (v5) {
    await c.subscribeAsync(`${prefix}/reply`, { qos: 1 });
    const reply = next(c, `${prefix}/reply`);
    await c.publishAsync(`${prefix}/svc`, "question", {
      qos: 1,
      properties: { responseTopic: `${prefix}/reply`, correlationData: Buffer.from("corr-1") },
    });
    const r = await reply;
    if (r.payload !== "answer:question" || r.props?.correlationData?.toString() !== "corr-1") fail("reply got " + JSON.stringify(r));
    ok("request to nats");
  }
  await c.endAsync();
} catch (e) {
  fail(e.stack || String(e));
}
process.exit(0);
