// Kernel interop for the TAP driver: the kernel's side of a TAP (198.18.0.1/24, in a namespace
// the test makes) is the peer; the stack (Runtime over TapDriver) is 198.18.0.2.

import assert from "node:assert/strict";
import { TapDriver } from "../../drivers/tap.ts";
import { F_GETFL, O_NONBLOCK } from "../../ffi/constants.ts";
import { SyscallError } from "../../ffi/errno.ts";
import { fcntl } from "../../ffi/syscalls.ts";
import {
  GSO_TCPV4,
  RX_CSUM_PARTIAL,
  RX_GSO,
  RxBatch,
  type RxBatch as RxBatchType,
  TxOffload,
} from "../../link/driver.ts";
import { Runtime } from "../../stack/runtime.ts";
import { interopTest, waitFor } from "../harness/interop.ts";
import { type CommandResult, formatMac, runCommand } from "../harness/netns.ts";
import { claimNamespace, releaseNamespace } from "../harness/netns_watchdog.ts";

/** The kernel side's address on the TAP. */
const PEER_ADDR = "198.18.0.1";
/** The stack's address. */
const STACK_ADDR = "198.18.0.2";
/** The TAP's name in every test (each test has its own namespace). */
const TAP = "ustap0";

let nsCounter = 0;

/**
 * A fresh namespace (unique per process and call) with loopback up; always deleted (by the
 * harness's namespace watchdog if the process dies half-way).
 */
async function withNamespace<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `ustk-${Deno.pid}-tap${++nsCounter}`;
  await claimNamespace(ns);
  try {
    await must(["ip", "netns", "add", ns]);
    await must(["ip", "-n", ns, "link", "set", "lo", "up"]);
    // Interfaces made here start without kernel IPv6 (no DAD, MLD or router solicitations).
    await must([
      "ip",
      "netns",
      "exec",
      ns,
      "sysctl",
      "-q",
      "-w",
      "net.ipv6.conf.default.disable_ipv6=1",
    ]);
    return await fn(ns);
  } finally {
    await runCommand(["ip", "netns", "del", ns], { timeoutMs: 10_000 });
    releaseNamespace(ns);
  }
}

/** Run a command, failing the test with its stderr when it fails. */
async function must(cmd: string[]): Promise<CommandResult> {
  const r = await runCommand(cmd, { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `${cmd.join(" ")}: ${r.stderr}`);
  return r;
}

/** Run a command inside `ns`. */
function inNs(ns: string, cmd: string[], timeoutMs = 30_000): Promise<CommandResult> {
  return runCommand(["ip", "netns", "exec", ns, ...cmd], { timeoutMs });
}

/** Give the kernel side of the TAP the peer address. */
async function configurePeer(ns: string): Promise<void> {
  await must(["ip", "-n", ns, "addr", "add", `${PEER_ADDR}/24`, "dev", TAP]);
}

/** `ping` from the kernel side; asserts every reply came and returns stdout. */
async function ping(ns: string, count: number, extra: string[] = []): Promise<string> {
  const r = await inNs(ns, [
    "ping",
    "-c",
    String(count),
    "-i",
    "0.2",
    "-W",
    "2",
    ...extra,
    STACK_ADDR,
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`${count} packets transmitted, ${count} received`));
  return r.stdout;
}

/** The JSON `ip -j link show` record of the TAP in `ns`, or null when there is none. */
async function linkInfo(ns: string, name = TAP): Promise<any | null> {
  const r = await runCommand(["ip", "-n", ns, "-j", "-d", "link", "show", "dev", name]);
  return r.code === 0 ? JSON.parse(r.stdout)[0] : null;
}

interopTest("tap: creates an up, non-blocking TAP with its own MAC; close removes it", async () => {
  await withNamespace(async (ns) => {
    const tap = TapDriver.open({ name: TAP, netns: ns });
    try {
      assert.equal(tap.kind, "tap");
      assert.equal(tap.name, TAP);
      assert.equal(tap.created, true);
      assert.equal(tap.vnetHdr, false);
      assert.equal(tap.mtu, 1500);
      assert.equal(tap.capabilities.txChecksumOffload, false);
      assert.ok((fcntl(tap.fd, F_GETFL) & O_NONBLOCK) !== 0, "the fd is non-blocking");
      const info = await linkInfo(ns);
      assert.ok(info, "the TAP exists in the namespace");
      assert.equal(info.ifindex, tap.ifindex);
      assert.equal(info.address, formatMac(tap.kernelMac));
      assert.ok(info.flags.includes("UP"), "the driver brought it up");
      assert.equal(info.linkinfo?.info_kind, "tun");
      // The stack's MAC: locally administered unicast, not the kernel side's.
      assert.notDeepEqual(tap.mac, tap.kernelMac);
      assert.equal(tap.mac[0] & 0x03, 0x02);
      // Nothing to read yet: receive returns 0 after one read that says EAGAIN.
      const batch = new RxBatch(8);
      assert.equal(tap.receive(batch, 8), 0);
      assert.equal(tap.stats.syscalls, 1);
      assert.equal(tap.lastErrno, 0);
    } finally {
      tap.close();
    }
    assert.equal(tap.fd, -1);
    assert.equal(await linkInfo(ns), null, "a TAP the driver created is gone after close");
    assert.throws(
      () => tap.close(),
      (e: unknown) => e instanceof SyscallError && e.code === "EBADF",
    );
    // Attaching to a TAP that does not exist fails when creating is not allowed.
    assert.throws(
      () => TapDriver.open({ name: TAP, netns: ns, create: false }),
      (e: unknown) => e instanceof SyscallError && e.code === "ENODEV",
    );
    assert.throws(() => TapDriver.open({ name: "x".repeat(16) }), RangeError);
    // A name that belongs to a non-TAP interface is refused.
    assert.throws(
      () => TapDriver.open({ name: "lo", netns: ns }),
      (e: unknown) => e instanceof SyscallError,
    );
  });
});

interopTest("tap: kernel ping -c 3 gets replies from the stack over a TAP", async () => {
  await withNamespace(async (ns) => {
    const tap = TapDriver.open({ name: TAP, netns: ns });
    const rt = await Runtime.start({ linkDriver: tap, addr: `${STACK_ADDR}/24` });
    try {
      await configurePeer(ns);
      await ping(ns, 3);
      const neigh = await inNs(ns, ["ip", "neigh", "show", STACK_ADDR, "dev", TAP]);
      assert.match(neigh.stdout, new RegExp(formatMac(tap.mac)), "ARP resolved the stack's MAC");
      assert.ok(tap.stats.rxFrames >= 4);
      assert.ok(tap.stats.txFrames >= 4);
      assert.equal(tap.stats.txDropped, 0);
      assert.equal(tap.stats.txKicks, tap.stats.txFrames, "one write per frame");
    } finally {
      await rt.stop();
    }
    assert.equal(tap.fd, -1);
  });
}, { tools: ["ping"] });

interopTest("tap: with vnetHdr at MTU 9000, ping and ping -s 8000 get replies", async () => {
  await withNamespace(async (ns) => {
    const tap = TapDriver.open({ name: TAP, netns: ns, vnetHdr: true, mtu: 9000 });
    assert.equal(tap.vnetHdr, true);
    assert.equal(tap.mtu, 9000);
    assert.equal(tap.linkMtu, 9000);
    assert.equal(tap.capabilities.txChecksumOffload, true);
    assert.equal(tap.capabilities.tcpSegmentationOffload, true);
    const info = await linkInfo(ns);
    assert.equal(info.mtu, 9000, "a created TAP gets the asked MTU");
    assert.match(JSON.stringify(info.linkinfo?.info_data ?? {}), /vnet_hdr|tap/);
    const rt = await Runtime.start({ linkDriver: tap, addr: `${STACK_ADDR}/24` });
    try {
      await configurePeer(ns);
      await ping(ns, 3);
      const out = await ping(ns, 3, ["-s", "8000"]);
      assert.match(out, /8008 bytes from/);
      assert.equal(tap.stats.txDropped, 0);
    } finally {
      await rt.stop();
    }
  });
}, { tools: ["ping"] });

interopTest(
  "tap: attaches to a persistent TAP (create: false) and leaves it on close",
  async () => {
    await withNamespace(async (ns) => {
      await must(["ip", "-n", ns, "tuntap", "add", "dev", TAP, "mode", "tap"]);
      await must(["ip", "-n", ns, "link", "set", TAP, "mtu", "4000"]);
      assert.throws(
        () => TapDriver.open({ name: TAP, netns: ns, create: false, mtu: 4001 }),
        (e: unknown) => e instanceof SyscallError && e.code === "EINVAL",
      );
      const tap = TapDriver.open({ name: TAP, netns: ns, create: false, mtu: 1500 });
      assert.equal(tap.created, false);
      assert.equal(tap.linkMtu, 4000);
      assert.equal(tap.mtu, 1500);
      const rt = await Runtime.start({ linkDriver: tap, addr: `${STACK_ADDR}/24` });
      try {
        await configurePeer(ns);
        await ping(ns, 2);
      } finally {
        await rt.stop();
      }
      assert.ok(await linkInfo(ns), "the persistent TAP outlives the driver");
    });
  },
  { tools: ["ping"] },
);

// --- offloads through the vnet header, at the driver level -------------------------------------

/** Ethernet + IPv4 header bytes in front of L4 in the frames built here. */
const L4_AT = 14 + 20;

/** Ones'-complement sum of `len` bytes at `off` added to `sum`, folded to 16 bits. */
function onesSum(b: Uint8Array, off: number, len: number, sum = 0): number {
  for (let i = 0; i + 1 < len; i += 2) sum += (b[off + i] << 8) | b[off + i + 1];
  if (len & 1) sum += b[off + len - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Dotted quad → 4 bytes. */
function ip4(text: string): number[] {
  return text.split(".").map(Number);
}

/** RFC 768 / RFC 9293 §3.1 pseudo-header sum (not inverted) for `l4Len` bytes of `proto`. */
function pseudoSum(src: string, dst: string, proto: number, l4Len: number): number {
  const p = new Uint8Array([...ip4(src), ...ip4(dst), 0, proto, l4Len >> 8, l4Len & 0xff]);
  return onesSum(p, 0, 12);
}

/** An Ethernet + IPv4 frame from the stack to the kernel side with `l4Len` bytes of `proto`. */
function ipv4Frame(tap: TapDriver, proto: number, l4Len: number): Uint8Array {
  const f = new Uint8Array(L4_AT + l4Len);
  f.set(tap.kernelMac, 0);
  f.set(tap.mac, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  const total = 20 + l4Len;
  f.set([0x45, 0, total >> 8, total & 0xff, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0], 14);
  f.set(ip4(STACK_ADDR), 26);
  f.set(ip4(PEER_ADDR), 30);
  const c = ~onesSum(f, 14, 20) & 0xffff; // RFC 791 §3.1 header checksum
  f[24] = c >> 8;
  f[25] = c & 0xff;
  return f;
}

/** Poll `receive()` until a frame satisfies `match`; returns a copy of it and its flags. */
async function receiveUntil(
  tap: TapDriver,
  match: (frame: Uint8Array) => boolean,
  what: string,
): Promise<{ frame: Uint8Array; flags: number }> {
  const batch: RxBatchType = new RxBatch(16);
  return await waitFor(() => {
    const n = tap.receive(batch, batch.capacity);
    try {
      for (let i = 0; i < n; i++) {
        const frame = batch.buf[i].subarray(batch.off[i], batch.off[i] + batch.len[i]);
        if (match(frame)) return { frame: frame.slice(), flags: batch.flags[i] };
      }
      return null;
    } finally {
      tap.release(batch);
    }
  }, { what, timeoutMs: 5_000, intervalMs: 5 });
}

/** Let the kernel side send IP to the stack without ARP (nobody answers ARP here). */
async function staticNeighbour(ns: string, tap: TapDriver): Promise<void> {
  await must([
    "ip",
    "-n",
    ns,
    "neigh",
    "replace",
    STACK_ADDR,
    "lladdr",
    formatMac(tap.mac),
    "dev",
    TAP,
    "nud",
    "permanent",
  ]);
}

/** Wait until a socket listens on `port` in `ns` (`ss -H -l -n`, `-u` for UDP, `-t` for TCP). */
async function listening(ns: string, proto: "-u" | "-t", port: number): Promise<void> {
  await waitFor(async () => {
    const r = await inNs(ns, ["ss", "-H", "-l", "-n", proto, "sport", "=", `:${port}`]);
    return r.stdout.trim() !== "";
  }, { what: `a listener on port ${port}`, intervalMs: 20 });
}

/** Start `cmd` in `ns` with stdout piped; returns the child. */
function spawnInNs(ns: string, cmd: string[]): Deno.ChildProcess {
  return new Deno.Command("ip", {
    args: ["netns", "exec", ns, ...cmd],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** A kernel counter from `nstat -az` in `ns`. */
async function nstat(ns: string, name: string): Promise<number> {
  const r = await inNs(ns, ["nstat", "-a", "-z", "-j"]);
  const all = JSON.parse(r.stdout).kernel as Record<string, number>;
  return all[name] ?? 0;
}

interopTest(
  "tap vnetHdr: kernel UDP arrives partial (RX_CSUM_PARTIAL); a partial-checksum UDP frame " +
    "is finished by the kernel, the same frame without the flag is dropped",
  async () => {
    await withNamespace(async (ns) => {
      const tap = TapDriver.open({ name: TAP, netns: ns, vnetHdr: true });
      try {
        await configurePeer(ns);
        await staticNeighbour(ns, tap);
        // Kernel → stack: the kernel leaves the UDP checksum to the "device" (us).
        const payload = "to the stack";
        const send = runCommand(
          ["ip", "netns", "exec", ns, "socat", "-u", "STDIN", `UDP-SENDTO:${STACK_ADDR}:7777`],
          { stdin: payload },
        );
        const { frame, flags } = await receiveUntil(
          tap,
          (f) => f[12] === 0x08 && f[13] === 0 && f[23] === 17 && f[L4_AT + 3] === 0x61,
          "the kernel's UDP datagram to port 7777",
        );
        assert.equal((await send).code, 0);
        assert.equal(flags & RX_CSUM_PARTIAL, RX_CSUM_PARTIAL);
        assert.equal(tap.stats.rxCsumPartial, 1);
        const udpLen = 8 + payload.length;
        // CHECKSUM_PARTIAL: the field holds only the pseudo-header sum (RFC 768), for the
        // receiver to finish over the datagram.
        const field = (frame[L4_AT + 6] << 8) | frame[L4_AT + 7];
        assert.equal(field, pseudoSum(PEER_ADDR, STACK_ADDR, 17, udpLen));

        // Stack → kernel: a UDP datagram whose checksum field holds only the pseudo-header sum.
        const build = (text: string): Uint8Array => {
          const data = new TextEncoder().encode(text);
          const len = 8 + data.length;
          const f = ipv4Frame(tap, 17, len);
          f.set([0x9c, 0x40, 0x1e, 0x62, len >> 8, len & 0xff], L4_AT); // 40000 → 7778
          const p = pseudoSum(STACK_ADDR, PEER_ADDR, 17, len);
          f[L4_AT + 6] = p >> 8;
          f[L4_AT + 7] = p & 0xff;
          f.set(data, L4_AT + 8);
          return f;
        };
        const offload = new TxOffload();
        offload.needsCsum = true;
        offload.csumStart = L4_AT;
        offload.csumOffset = 6;
        const errorsBefore = await nstat(ns, "UdpInCsumErrors");
        const listener = spawnInNs(ns, [
          "timeout",
          "5",
          "socat",
          "-u",
          "UDP-RECVFROM:7778",
          "STDOUT",
        ]);
        await listening(ns, "-u", 7778);
        // First without the offload flag: the kernel checks the (wrong) checksum and drops it.
        const bad = build("not finished");
        assert.ok(tap.transmit(bad, 0, bad.length, null));
        tap.flush();
        await waitFor(async () => await nstat(ns, "UdpInCsumErrors") > errorsBefore, {
          what: "UdpInCsumErrors to count the unfinished checksum",
          intervalMs: 20,
        });
        const good = build("finished by the kernel");
        assert.ok(tap.transmit(good, 0, good.length, offload));
        tap.flush();
        assert.equal(tap.stats.txCsumOffload, 1);
        assert.equal(tap.stats.txDropped, 0);
        const out = await listener.output();
        const got = new TextDecoder().decode(out.stdout);
        assert.match(got, /finished by the kernel/);
        assert.doesNotMatch(got, /not finished/);
      } finally {
        tap.close();
      }
    });
  },
  { tools: ["socat", "nstat", "ss", "timeout"] },
);

interopTest(
  "tap vnetHdr: a 20,000-byte TCP super-segment (GSO_TCPV4) reaches a kernel socket whole",
  async () => {
    await withNamespace(async (ns) => {
      const tap = TapDriver.open({ name: TAP, netns: ns, vnetHdr: true });
      try {
        await configurePeer(ns);
        await staticNeighbour(ns, tap);
        const port = 7779;
        const sink = spawnInNs(ns, [
          "timeout",
          "10",
          "socat",
          "-u",
          `TCP-LISTEN:${port},reuseaddr`,
          "STDOUT",
        ]);
        await listening(ns, "-t", port);
        const offload = new TxOffload();
        const iss = 1000;
        const segment = (
          seq: number,
          ack: number,
          tcpFlags: number,
          data: Uint8Array,
        ): Uint8Array => {
          const len = 20 + data.length;
          const f = ipv4Frame(tap, 6, len);
          const v = new DataView(f.buffer);
          v.setUint16(L4_AT, 40001);
          v.setUint16(L4_AT + 2, port);
          v.setUint32(L4_AT + 4, seq >>> 0);
          v.setUint32(L4_AT + 8, ack >>> 0);
          f[L4_AT + 12] = 5 << 4;
          f[L4_AT + 13] = tcpFlags;
          v.setUint16(L4_AT + 14, 65535);
          // Partial checksum: the pseudo-header sum over the whole (super-)segment's length.
          v.setUint16(L4_AT + 16, pseudoSum(STACK_ADDR, PEER_ADDR, 6, len));
          f.set(data, L4_AT + 20);
          return f;
        };
        const send = (f: Uint8Array, gsoSize = 0): void => {
          offload.clear();
          offload.needsCsum = true;
          offload.csumStart = L4_AT;
          offload.csumOffset = 16;
          if (gsoSize > 0) {
            offload.gsoType = GSO_TCPV4;
            offload.gsoSize = gsoSize;
            offload.hdrLen = L4_AT + 20;
          }
          assert.ok(tap.transmit(f, 0, f.length, offload));
          tap.flush();
        };
        const SYN = 0x02, ACK = 0x10, PSH = 0x08, FIN = 0x01;
        send(segment(iss, 0, SYN, new Uint8Array(0)));
        const { frame: synAck } = await receiveUntil(
          tap,
          (f) => f[23] === 6 && (f[L4_AT + 13] & (SYN | ACK)) === (SYN | ACK),
          "the kernel's SYN-ACK",
        );
        const peerSeq = new DataView(synAck.buffer).getUint32(L4_AT + 4);
        const data = new Uint8Array(20_000);
        for (let i = 0; i < data.length; i++) data[i] = 0x61 + (i % 26);
        send(segment(iss + 1, peerSeq + 1, ACK, new Uint8Array(0)));
        const superFrame = segment(iss + 1, peerSeq + 1, ACK | PSH, data);
        assert.ok(superFrame.length > tap.maxFrameBytes, "far above the MTU");
        send(superFrame, 1448);
        send(segment(iss + 1 + data.length, peerSeq + 1, FIN | ACK, new Uint8Array(0)));
        const out = await sink.output();
        assert.equal(out.stdout.length, data.length, new TextDecoder().decode(out.stderr));
        assert.deepEqual(out.stdout, data);
        // The kernel acknowledged everything, FIN included.
        await receiveUntil(
          tap,
          (f) =>
            f[23] === 6 && (f[L4_AT + 13] & ACK) !== 0 &&
            new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(L4_AT + 8) ===
              iss + 2 + data.length,
          "the ACK of the FIN",
        );
        assert.equal(tap.stats.txGso, 1);
        assert.equal(tap.stats.txDropped, 0);
      } finally {
        tap.close();
      }
    });
  },
  { tools: ["socat", "ss", "timeout"] },
);

interopTest("tap: frames above the MTU arrive whole and flagged RX_GSO", async () => {
  await withNamespace(async (ns) => {
    // The TAP link carries 64 KiB frames; the stack itself uses 1500.
    await must(["ip", "-n", ns, "tuntap", "add", "dev", TAP, "mode", "tap"]);
    await must(["ip", "-n", ns, "link", "set", TAP, "mtu", "65521"]);
    const tap = TapDriver.open({ name: TAP, netns: ns, create: false, mtu: 1500 });
    try {
      await configurePeer(ns);
      await staticNeighbour(ns, tap);
      const payload = 60_000;
      const send = inNs(ns, ["ping", "-c", "1", "-W", "1", "-s", String(payload), STACK_ADDR]);
      const expected = 14 + 20 + 8 + payload;
      const { flags } = await receiveUntil(
        tap,
        (f) => f[23] === 1 && f.length === expected,
        `the ${expected}-byte echo request`,
      );
      await send;
      assert.equal(flags & RX_GSO, RX_GSO);
      assert.equal(tap.stats.rxGso, 1);
    } finally {
      tap.close();
    }
  });
}, { tools: ["ping"] });

interopTest("tap: a burst of frames is written one write() per frame and all arrive", async () => {
  await withNamespace(async (ns) => {
    const tap = TapDriver.open({ name: TAP, netns: ns, txQueue: 64 });
    try {
      const counters = async (): Promise<number> =>
        Number((await linkInfoStats(ns)).stats64.rx.packets);
      const before = await counters();
      const frame = new Uint8Array(1514);
      frame.fill(0xff, 0, 6);
      frame.set(tap.mac, 6);
      frame[12] = 0x88; // IEEE 802 local experimental EtherType 0x88b5
      frame[13] = 0xb5;
      const total = 20_000;
      const t0 = performance.now();
      for (let sent = 0; sent < total;) {
        for (let i = 0; i < 64 && sent < total; i++, sent++) {
          assert.ok(tap.transmit(frame, 0, frame.length, null));
        }
        tap.flush();
      }
      const ms = performance.now() - t0;
      assert.equal(tap.stats.txDropped, 0);
      assert.equal(tap.stats.txKicks, total, "TAP has no batched write: one per frame");
      await waitFor(async () => (await counters()) - before >= total, {
        what: "the kernel to count every frame",
        intervalMs: 20,
      });
      console.log(
        `tap tx: ${total} × 1514 B in ${ms.toFixed(0)} ms = ${Math.round(total / ms * 1000)} pps`,
      );
    } finally {
      tap.close();
    }
  });
});

/** `ip -s -j link show` record of the TAP (its counters: our writes are its rx). */
async function linkInfoStats(ns: string): Promise<any> {
  const r = await must(["ip", "-n", ns, "-s", "-j", "link", "show", "dev", TAP]);
  return JSON.parse(r.stdout)[0];
}
