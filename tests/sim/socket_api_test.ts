// The BSD-style socket table over two simulated hosts: stream and datagram sockets, errno
// errors, options, poll-style readiness.

import assert from "node:assert/strict";
import { SimWire } from "../../link/sim_wire.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { VirtualClock } from "../../core/clock.ts";
import {
  AF_INET,
  IPPROTO_TCP,
  POLLIN,
  POLLOUT,
  SHUT_WR,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SOCK_DGRAM,
  SOCK_STREAM,
  SocketTable,
  SOL_SOCKET,
  TCP_CONGESTION,
  TCP_NODELAY,
} from "../../stack/socket.ts";
import { Stack } from "../../stack/stack.ts";

function hosts() {
  const clock = new VirtualClock(5000);
  const wire = new SimWire({ clock, seed: 11, delayMs: 1 });
  const a = new Stack({ clock, poolBuffers: 256 });
  const b = new Stack({ clock, poolBuffers: 256 });
  a.ipv4.addAddress(
    a.addNic(wire.endpoint("a", new Uint8Array([2, 0, 0, 0, 0, 1]))).index,
    parseIpv4("198.18.0.1"),
    24,
  );
  b.ipv4.addAddress(
    b.addNic(wire.endpoint("b", new Uint8Array([2, 0, 0, 0, 0, 2]))).index,
    parseIpv4("198.18.0.2"),
    24,
  );
  const run = (ms: number, until: () => boolean = () => false) => {
    const end = clock.nowMs() + ms;
    for (;;) {
      a.tick();
      b.tick();
      if (until()) return true;
      if (a.hasPendingWork || b.hasPendingWork) continue;
      const next = Math.min(a.nextDeadlineMs(), b.nextDeadlineMs(), wire.nextEventMs());
      if (next > end) {
        clock.set(Math.max(clock.nowMs(), end));
        return until();
      }
      if (next > clock.nowMs()) clock.set(next);
    }
  };
  return { clock, wire, a, b, sa: new SocketTable(a), sb: new SocketTable(b), run };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

Deno.test("socket API: TCP connect/listen/accept/read/write/shutdown with errno errors", () => {
  const { sa, sb, run } = hosts();
  const srv = sb.socket(AF_INET, SOCK_STREAM);
  sb.bind(srv, "0.0.0.0", 8080);
  sb.listen(srv, 16);
  assert.equal(code(() => sb.accept(srv)), "EAGAIN");
  const cli = sa.socket(AF_INET, SOCK_STREAM);
  sa.setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, 1);
  assert.equal(code(() => sa.connect(cli, "198.18.0.2", 8080)), "EINPROGRESS");
  assert.equal(code(() => sa.connect(cli, "198.18.0.2", 8080)), "EALREADY");
  assert.ok(run(1000, () => (sa.poll(cli, POLLOUT) & POLLOUT) !== 0));
  assert.equal(sa.getsockopt(cli, SOL_SOCKET, SO_ERROR), 0);
  assert.equal(sa.getsockopt(cli, IPPROTO_TCP, TCP_NODELAY), 1);
  assert.ok(run(1000, () => (sb.poll(srv, POLLIN) & POLLIN) !== 0));
  const conn = sb.accept(srv);
  assert.deepEqual(sb.getpeername(conn), { addr: "198.18.0.1", port: sa.getsockname(cli).port });
  const msg = new TextEncoder().encode("hello over a simulated wire");
  assert.equal(sa.write(cli, msg), msg.length);
  sa.shutdown(cli, SHUT_WR);
  assert.ok(run(1000, () => (sb.poll(conn, POLLIN) & POLLIN) !== 0));
  const buf = new Uint8Array(100);
  const n = sb.read(conn, buf);
  assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "hello over a simulated wire");
  assert.ok(
    run(1000, () => {
      try {
        return sb.read(conn, buf) === 0;
      } catch {
        return false;
      }
    }),
    "EOF after the peer's FIN",
  );
  assert.equal(code(() => sa.write(cli, msg)), "EPIPE");
  assert.equal(sb.tcpInfo(conn).state, "CLOSE_WAIT");
  sb.close(conn);
  sa.close(cli);
  run(200);
  assert.equal(code(() => sa.read(cli, buf)), "EBADF");
  assert.equal(code(() => sb.listen(99)), "EBADF");
});

Deno.test("socket API: connect to a closed port reports ECONNREFUSED through SO_ERROR", () => {
  const { sa, run } = hosts();
  const cli = sa.socket(AF_INET, SOCK_STREAM);
  assert.equal(code(() => sa.connect(cli, "198.18.0.2", 9)), "EINPROGRESS");
  assert.ok(run(2000, () => sa.poll(cli, POLLOUT) !== 0));
  assert.equal(sa.getsockopt(cli, SOL_SOCKET, SO_ERROR), 111);
});

Deno.test("socket API: SO_LINGER 0 makes close() abortive; options and misuse", () => {
  const { sa, sb, a, b, run } = hosts();
  const srv = sb.socket(AF_INET, SOCK_STREAM);
  sb.bind(srv, "198.18.0.2", 7000);
  sb.listen(srv);
  assert.equal(code(() => sb.bind(srv, "0.0.0.0", 7001)), "EINVAL");
  const cli = sa.socket(AF_INET, SOCK_STREAM);
  sa.setsockopt(cli, SOL_SOCKET, SO_KEEPALIVE, true);
  sa.setsockopt(cli, SOL_SOCKET, SO_LINGER, 0);
  assert.equal(code(() => sa.setsockopt(cli, SOL_SOCKET, 999, 1)), "ENOPROTOOPT");
  code(() => sa.connect(cli, "198.18.0.2", 7000));
  assert.ok(run(1000, () => sa.poll(cli, POLLOUT) !== 0));
  assert.ok(run(1000, () => sb.poll(srv, POLLIN) !== 0));
  const conn = sb.accept(srv);
  const rstsBefore = a.stats.tcp.OutRsts;
  sa.close(cli);
  run(100);
  assert.equal(a.stats.tcp.OutRsts, rstsBefore + 1);
  assert.equal(code(() => sb.read(conn, new Uint8Array(10))), "ECONNRESET");
  assert.ok(b.stats.tcp.InRsts >= 1);
  const udp = sa.socket(AF_INET, SOCK_DGRAM);
  assert.equal(code(() => sa.listen(udp)), "EINVAL");
  assert.equal(code(() => sa.socket(AF_INET, 99)), "EPROTONOSUPPORT");
  assert.equal(code(() => sa.socket(1, SOCK_STREAM)), "EAFNOSUPPORT"); // AF_UNIX
});

Deno.test("socket API: the descriptor table is bounded (EMFILE, counted) and frees on close", () => {
  const { a } = hosts();
  const s = new SocketTable(a, 2);
  const x = s.socket(AF_INET, SOCK_DGRAM);
  s.socket(AF_INET, SOCK_STREAM);
  assert.equal(code(() => s.socket(AF_INET, SOCK_DGRAM)), "EMFILE");
  assert.equal(s.refused, 1);
  s.close(x);
  assert.equal(s.socket(AF_INET, SOCK_DGRAM), x, "lowest free descriptor is reused");
});

Deno.test("socket API: TCP_CONGESTION chooses the algorithm per socket (ENOENT when unknown)", () => {
  const { sa, sb, run } = hosts();
  const srv = sb.socket(AF_INET, SOCK_STREAM);
  sb.bind(srv, "198.18.0.2", 7100);
  assert.equal(sb.getsockopt(srv, IPPROTO_TCP, TCP_CONGESTION), "cubic"); // the default
  sb.setsockopt(srv, IPPROTO_TCP, TCP_CONGESTION, "BBR");
  assert.equal(sb.getsockopt(srv, IPPROTO_TCP, TCP_CONGESTION), "bbr");
  sb.listen(srv);
  const cli = sa.socket(AF_INET, SOCK_STREAM);
  assert.equal(code(() => sa.setsockopt(cli, IPPROTO_TCP, TCP_CONGESTION, "vegas")), "ENOENT");
  assert.equal(code(() => sa.setsockopt(cli, IPPROTO_TCP, TCP_CONGESTION, 1)), "EINVAL");
  assert.equal(code(() => sa.setsockopt(cli, SOL_SOCKET, SO_LINGER, "bbr")), "EINVAL");
  sa.setsockopt(cli, IPPROTO_TCP, TCP_CONGESTION, "reno");
  code(() => sa.connect(cli, "198.18.0.2", 7100));
  assert.ok(run(1000, () => sa.poll(cli, POLLOUT) !== 0));
  assert.equal(sa.getsockopt(cli, IPPROTO_TCP, TCP_CONGESTION), "newreno");
  assert.equal(sa.tcpInfo(cli).congestionControl, "newreno");
  assert.ok(run(1000, () => sb.poll(srv, POLLIN) !== 0));
  const conn = sb.accept(srv); // inherits the listener's choice
  assert.equal(sb.getsockopt(conn, IPPROTO_TCP, TCP_CONGESTION), "bbr");
  // Changed on an established connection.
  sa.setsockopt(cli, IPPROTO_TCP, TCP_CONGESTION, "cubic");
  assert.equal(sa.tcpInfo(cli).congestionControl, "cubic");
  const data = new Uint8Array(100_000).fill(7);
  let sent = 0;
  let got = 0;
  const buf = new Uint8Array(65536);
  assert.ok(run(5000, () => {
    if (sent < data.length) {
      try {
        sent += sa.write(cli, data.subarray(sent));
      } catch { /* EAGAIN */ }
    }
    try {
      const n = sb.read(conn, buf);
      if (n > 0) got += n;
    } catch { /* EAGAIN */ }
    return got === data.length;
  }));
});
