// nats.js (Node transport) against a NATS server: pub/sub with wildcards,
// queue groups, request/reply, headers and no-responders. Prints one
// "ok <check>" line per passed check and exits non-zero on the first
// failure. Usage: node interop.mjs nats://127.0.0.1:4222
import { connect, headers, Empty } from "@nats-io/transport-node";
import { coreChecks, fail, ok } from "./nats_checks.mjs";

const url = process.argv[2];
const nc = await connect({ servers: url, maxReconnectAttempts: 0 });
await coreChecks(nc, "js", { headers, Empty });

const info = nc.info;
if (!info || info.proto !== 1 || !info.headers) fail("INFO " + JSON.stringify(info));
ok("info");
await nc.drain();
