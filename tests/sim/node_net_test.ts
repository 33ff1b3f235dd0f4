// @ustack/ustack/node over the loopback driver: node:net-shaped sockets and servers, events in
// node's order, half-close, timeouts, errors with node's codes.

import assert from "node:assert/strict";
import { once } from "node:events";
import { Buffer } from "node:buffer";
import { Runtime } from "../../mod.ts";
import { connect, createServer, type NodeNetError, Socket } from "../../node.ts";

const ADDR = "198.18.9.1";
const T = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  ...T,
  name: "node sockets: echo server and client, Buffers, addresses, events in order",
  async fn() {
    await using rt = await Runtime.start({ driver: "loopback", addr: `${ADDR}/24` });
    const server = createServer({ runtime: rt, noDelay: true }, (s) => s.pipe(s));
    server.listen(7000, ADDR);
    await once(server, "listening");
    assert.deepEqual(server.address(), { address: ADDR, family: "IPv4", port: 7000 });
    const events: string[] = [];
    const socket = new Socket({ runtime: rt });
    assert.equal(socket.readyState, "closed");
    socket.on("connect", () => events.push("connect"));
    socket.on("ready", () => events.push("ready"));
    socket.on("end", () => events.push("end"));
    socket.on("close", () => events.push("close"));
    socket.connect(7000, ADDR);
    assert.equal(socket.readyState, "opening");
    await once(socket, "connect");
    assert.equal(socket.remoteAddress, ADDR);
    assert.equal(socket.remotePort, 7000);
    assert.equal(socket.remoteFamily, "IPv4");
    assert.equal(socket.localAddress, ADDR);
    assert.ok(socket.localPort! > 0);
    socket.setNoDelay(true).setKeepAlive(true, 1000);
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    const data = Buffer.alloc(300_000, 7);
    socket.write("hello ");
    socket.end(data);
    await once(socket, "close");
    const got = Buffer.concat(chunks);
    assert.ok(Buffer.isBuffer(chunks[0]));
    assert.equal(got.length, 6 + data.length);
    assert.equal(got.subarray(0, 6).toString(), "hello ");
    assert.deepEqual(events, ["connect", "ready", "end", "close"]);
    assert.equal(socket.bytesRead, got.length);
    assert.equal(socket.bytesWritten, got.length);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  },
});

Deno.test({
  ...T,
  name: "node sockets: connect({port, host, runtime}), writes before connect, allowHalfOpen",
  async fn() {
    await using rt = await Runtime.start({
      driver: "loopback",
      addr: `${ADDR}/24`,
      hosts: { "db.test": ADDR },
    });
    const server = createServer({ runtime: rt, allowHalfOpen: true }, (s) => {
      let text = "";
      s.setEncoding("utf8");
      s.on("data", (d: string) => (text += d));
      s.on("end", () => s.end(`got:${text}`)); // still writable after the client's FIN
    }).listen({ port: 7001 });
    await once(server, "listening");
    const socket = connect({ port: 7001, host: "db.test", runtime: rt });
    socket.write("queued before connect"); // buffered until connected
    socket.end();
    let reply = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (reply += d));
    await once(socket, "close");
    assert.equal(reply, "got:queued before connect");
    const counted = await new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
    assert.equal(counted, 0);
    server.close();
    assert.throws(() => new Socket({} as never), /runtime/);
    assert.throws(() => connect({ port: 1 } as never), /runtime/);
  },
});

Deno.test({
  ...T,
  name: "node sockets: ECONNREFUSED, ENOTFOUND, EADDRINUSE and setTimeout as node reports them",
  async fn() {
    await using rt = await Runtime.start({ driver: "loopback", addr: `${ADDR}/24` });
    const refused = connect({ port: 7999, host: ADDR, runtime: rt });
    const closed = new Promise((r) => refused.once("close", r));
    const [err] = await once(refused, "error") as [NodeNetError];
    assert.equal(err.code, "ECONNREFUSED");
    assert.equal(err.syscall, "connect");
    assert.equal(err.errno, -111);
    assert.equal(err.message, `connect ECONNREFUSED ${ADDR}:7999`);
    await closed;
    const unknown = connect({ port: 1, host: "nowhere.test", runtime: rt });
    const [e2] = await once(unknown, "error") as [NodeNetError];
    assert.equal(e2.code, "ENOTFOUND");
    const a = createServer({ runtime: rt }).listen(7002);
    await once(a, "listening");
    const b = createServer({ runtime: rt }).listen(7002);
    const [e3] = await once(b, "error") as [NodeNetError];
    assert.equal(e3.code, "EADDRINUSE");
    const held = createServer({ runtime: rt }, () => {}).listen(7003);
    await once(held, "listening");
    const idle = connect({ port: 7003, host: ADDR, runtime: rt });
    await once(idle, "connect");
    const t0 = performance.now();
    idle.setTimeout(100);
    await once(idle, "timeout");
    assert.ok(performance.now() - t0 >= 90);
    idle.destroy();
    a.close();
    held.close();
  },
});
