// The browser end of test/e2e/ws_browser_test.go. Two modes (query mode=):
//
// exchange (default): nats.js over ws:// and MQTT.js over ws://.../mqtt
// trade messages with the test's nats.go and paho.mqtt.golang clients
// (over TCP) and with each other. The Go side subscribes and serves
// before the page loads; the page announces itself with a "ready"
// message per protocol and the Go side answers. Every step the page can
// see is a check in window.result.checks; what only the Go side can see
// (the page's echoes, its replies) the Go side checks itself.
//
// connect: only try to connect each client, and report whether its
// WebSocket opened; expect=open (default) or expect=refused says which
// outcome passes (the origin rules: a refused origin must not open).
//
// Subjects and topics start with the run id, so concurrent runs and
// retained messages of other runs never meet.

import mqtt from "mqtt";
import { requirePackage } from "./cjs.js";

const q = new URLSearchParams(location.search);
const natsURL = q.get("nats");
const mqttURL = q.get("mqtt");
const run = q.get("run") ?? "run";
const mode = q.get("mode") ?? "exchange";
const expectOpen = q.get("expect") !== "refused";
const WAIT = 10000; // ms for any one step
const BIG = 100000; // bytes of the large binary messages

document.getElementById("meta").textContent =
  `mode ${mode} · run ${run} · page ${location.origin} · NATS ${natsURL} · MQTT ${mqttURL}`;

const checks = [];
function check(name, ok, detail = "") {
  checks.push({ name, ok: !!ok, detail: String(detail) });
  const tr = document.createElement("tr");
  tr.className = ok ? "pass" : "fail";
  for (const [cls, text] of [["", name], ["state", ok ? "pass" : "FAIL"], ["", detail]]) {
    const td = document.createElement("td");
    td.className = cls;
    td.textContent = text;
    tr.append(td);
  }
  document.getElementById("checks").append(tr);
  if (!ok) console.error(`check ${name} failed: ${detail}`);
  return ok;
}

function within(p, what, ms = WAIT) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`timeout after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// signal is a promise with its resolve function beside it.
function signal() {
  let resolve;
  const p = new Promise((r) => { resolve = r; });
  p.resolve = resolve;
  return p;
}

// pattern is the large binary payload both sides build and check.
function pattern(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}
function samePattern(b) {
  const want = pattern(BIG);
  return b.length === want.length && b.every((v, i) => v === want[i]);
}

const te = new TextEncoder();
const td = new TextDecoder();

// connectMQTT resolves with the connected client, or rejects with the
// reason it did not connect (refused handshake, error, close).
function connectMQTT(opts = {}) {
  const c = mqtt.connect(mqttURL, {
    protocolVersion: 4, // nats-server's MQTT is 3.1.1 only
    clientId: `browser-${run}-${Math.random().toString(36).slice(2, 8)}`,
    reconnectPeriod: 0,
    connectTimeout: WAIT,
    ...opts,
  });
  return new Promise((res, rej) => {
    c.once("connect", () => res(c));
    c.once("error", (e) => { c.end(true); rej(e); });
    c.once("close", () => rej(new Error("connection closed before CONNACK")));
  });
}

function connectNATS() {
  return nats.wsconnect({ servers: natsURL, name: `browser-${run}`, reconnect: false, timeout: WAIT });
}

let nats; // @nats-io/nats-core's exports

async function exchangeNATS() {
  const nc = await connectNATS();
  check("nats: connect over ws", true, `${nc.info.server_name ?? ""} ${nc.info.version ?? ""}, headers ${nc.info.headers}`);
  const S = (s) => `${run}.nats.${s}`;

  const gotHello = signal();
  nc.subscribe(S("to.page"), {
    callback: (err, m) => {
      if (err) return;
      nc.publish(S("echo"), `echo:${m.string()}`);
      gotHello.resolve({ data: m.string(), from: m.headers?.get("X-From") });
    },
  });
  const served = signal();
  nc.subscribe(S("svc.page"), {
    callback: (err, m) => {
      if (err) return;
      m.respond(`page:${m.string()}`);
      served.resolve(m.string());
    },
  });
  const gotBig = signal();
  nc.subscribe(S("big"), {
    callback: (err, m) => {
      if (err) return;
      m.respond(m.data); // the Go side compares the bytes it gets back
      gotBig.resolve(m.data);
    },
  });
  await nc.flush(); // the subscriptions are in place before we announce them
  const h = nats.headers();
  h.set("X-From", "browser");
  nc.publish(S("ready"), "nats", { headers: h });

  const r = await within(nc.request(S("svc.go"), "ping", { timeout: WAIT }), "request to the Go service");
  check("nats: request from the page, reply from nats.go", r.string() === "go:ping", r.string());

  const hello = await within(gotHello, "message from nats.go");
  check("nats: message from nats.go (with header)", hello.data === "hello from nats.go" && hello.from === "nats.go",
    `${hello.data} / X-From ${hello.from}`);
  const asked = await within(served, "request from nats.go");
  check("nats: request from nats.go, reply from the page", asked === "ping", asked);
  const big = await within(gotBig, "large message from nats.go");
  check(`nats: ${BIG}-byte binary message from nats.go`, samePattern(big), `${big.length} bytes`);
  return nc;
}

async function exchangeMQTT() {
  const T = (t) => `${run}/mqtt/${t}`;
  const arrived = new Map(); // topic -> signal of {payload, retain, qos}
  const on = (topic) => {
    if (!arrived.has(topic)) arrived.set(topic, signal());
    return arrived.get(topic);
  };
  const c = await connectMQTT();
  check("mqtt: connect over ws", true, `${mqttURL} (MQTT 3.1.1)`);
  c.on("message", (topic, payload, packet) => {
    on(topic).resolve({ payload, retain: packet.retain, qos: packet.qos });
    if (topic === T("to/page")) c.publish(T("echo"), `echo:${payload}`, { qos: 1 });
  });
  const granted = await within(c.subscribeAsync([T("to/page"), T("retained")], { qos: 1 }), "SUBACK");
  check("mqtt: subscribe QoS 1", granted.every((g) => g.qos === 1), granted.map((g) => `${g.topic}:${g.qos}`).join(" "));

  const kept = await within(on(T("retained")), "retained message");
  check("mqtt: retained message from paho", td.decode(kept.payload) === "kept" && kept.retain,
    `${td.decode(kept.payload)} retain=${kept.retain}`);

  await within(c.publishAsync(T("ready"), "mqtt", { qos: 1 }), "PUBACK of ready");
  const hello = await within(on(T("to/page")), "message from paho");
  check("mqtt: QoS 1 message from paho", td.decode(hello.payload) === "hello from paho" && hello.qos === 1,
    `${td.decode(hello.payload)} qos=${hello.qos}`);

  await within(c.publishAsync(T("big"), pattern(BIG), { qos: 1 }), "PUBACK of the large message");
  check(`mqtt: ${BIG}-byte QoS 1 publish acknowledged`, true);
  return c;
}

// cross sends from each browser client to the other through the broker:
// MQTT topic a/b/c is NATS subject a.b.c.
async function cross(nc, c) {
  const fromMQTT = signal();
  nc.subscribe(`${run}.cross.m2n`, { callback: (err, m) => { if (!err) fromMQTT.resolve(m.string()); } });
  await nc.flush();
  const fromNATS = signal();
  c.on("message", (topic, payload) => { if (topic === `${run}/cross/n2m`) fromNATS.resolve(td.decode(payload)); });
  await within(c.subscribeAsync(`${run}/cross/n2m`, { qos: 0 }), "SUBACK cross");

  await c.publishAsync(`${run}/cross/m2n`, "from mqtt.js", { qos: 1 });
  const a = await within(fromMQTT, "MQTT.js → nats.js");
  check("cross: MQTT.js publish → nats.js subscription", a === "from mqtt.js", a);
  nc.publish(`${run}.cross.n2m`, te.encode("from nats.js"));
  const b = await within(fromNATS, "nats.js → MQTT.js");
  check("cross: nats.js publish → MQTT.js subscription", b === "from nats.js", b);
}

async function exchange() {
  const nc = await exchangeNATS();
  const c = await exchangeMQTT();
  await cross(nc, c);
  await nc.close();
  await c.endAsync();
}

// probe reports whether each client's WebSocket opened.
async function probe() {
  const out = {};
  try {
    const nc = await connectNATS();
    out.nats = { connected: true };
    await nc.close();
  } catch (e) {
    out.nats = { connected: false, error: `${e.name}: ${e.message}` };
  }
  const want = expectOpen ? "open" : "refused";
  check(`nats: WebSocket ${want}`, out.nats.connected === expectOpen, out.nats.error ?? "connected");
  try {
    const c = await connectMQTT();
    out.mqtt = { connected: true };
    await c.endAsync();
  } catch (e) {
    out.mqtt = { connected: false, error: `${e.name}: ${e.message}` };
  }
  check(`mqtt: WebSocket ${want}`, out.mqtt.connected === expectOpen, out.mqtt.error ?? "connected");
  return out;
}

async function main() {
  const result = { mode, origin: location.origin, checks };
  try {
    nats = await requirePackage("@nats-io/nats-core");
    if (mode === "connect") Object.assign(result, await probe());
    else await exchange();
  } catch (e) {
    check("no error", false, `${e.name}: ${e.message}`);
  }
  result.ok = checks.length > 0 && checks.every((c) => c.ok);
  result.ms = Math.round(performance.now()); // since navigation started
  const status = document.getElementById("status");
  status.textContent = `${result.ok ? "all checks passed" : "FAILED"} in ${result.ms} ms`;
  status.style.color = result.ok ? "#0a0" : "#c00";
  window.result = result;
}

main();
