import assert from "node:assert/strict";
import {
  AF_PACKET_RING_V2_FRAME_BYTES,
  AfPacketRingDriver,
  type AfPacketRingOptions,
  type AfPacketRxRingVersion,
} from "../../drivers/af_packet_ring.ts";
import { AfPacketDriver } from "../../drivers/af_packet.ts";
import { vnetFlags, vnetGsoSize, vnetGsoType, vnetHdrLen } from "../../drivers/vnet_header.ts";
import {
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_LEN,
} from "../../ffi/virtio_net.ts";
import { setNetdevFeatures } from "../../ffi/ethtool.ts";
import { SyscallError } from "../../ffi/errno.ts";
import { withNetns } from "../../ffi/netns.ts";
import { close, socket } from "../../ffi/syscalls.ts";
import {
  GSO_TCPV4,
  GSO_UDP,
  GSO_UDP_L4,
  NO_OFFLOADS,
  RX_CSUM_PARTIAL,
  RX_CSUM_VALID,
  RX_GSO,
  RxBatch,
  TxOffload,
} from "../../link/driver.ts";
import { PcapWriter } from "../../link/pcap_writer.ts";
import {
  foldSum,
  internetChecksum,
  pseudoHeaderSumV4,
  verifyChecksum,
} from "../../net/checksum.ts";
import { Runtime } from "../../stack/runtime.ts";
import { interopTest, waitFor } from "../harness/interop.ts";
import { uploadFromPeer } from "../harness/peer_upload.ts";
import { formatMac, runCommand, type VethPair, withVethPair } from "../harness/netns.ts";

/** An IEEE 802 local experimental EtherType: nothing in the kernel reacts to it. */
const ETHERTYPE_EXPERIMENTAL = 0x88b5;
const ETH = 14;
const IPV4 = 20;
const UDP = 8;
const TCP = 20;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
/** Both ring versions: every test that touches a ring runs over each. */
const RINGS: readonly AfPacketRxRingVersion[] = ["v2", "v3"];

/**
 * Open the ring driver on the stack end. Kicks are synchronous unless `opts` says otherwise:
 * these tests count kicks and syscalls of the ring itself (tx_kick_test.ts covers the kicker).
 */
function openRing(
  pair: VethPair,
  opts: Omit<AfPacketRingOptions, "ifname" | "netns"> = {},
): AfPacketRingDriver {
  return AfPacketRingDriver.open({
    ifname: pair.stackIf,
    netns: pair.stackNs,
    txKick: "sync",
    ...opts,
  });
}

/** Turn the generic TX checksum feature (and with it TSO/USO) of a veth end on or off. */
function setTxChecksum(ns: string, ifname: string, on: boolean): void {
  const after = withNetns(ns, () => {
    const fd = socket(2, /* AF_INET */ 2, /* SOCK_DGRAM */ 0);
    try {
      return setNetdevFeatures(fd, ifname, { "tx-checksum-ip-generic": on });
    } finally {
      close(fd);
    }
  });
  assert.equal(after.get("tx-checksum-ip-generic")?.active, on);
  if (!on) assert.equal(after.get("tx-tcp-segmentation")?.active, false, "TSO follows csum");
}

/** A received frame, copied out of the ring, with its vnet header's fields when it had one. */
interface Received {
  frame: Uint8Array;
  flags: number;
  vnet?: { flags: number; gsoType: number; gsoSize: number; hdrLen: number };
}

/** Drain `driver` once into copies; checks the one-view rule on the way. */
function drain(driver: AfPacketRingDriver | AfPacketDriver, batch: RxBatch): Received[] {
  const out: Received[] = [];
  const n = driver.receive(batch, batch.capacity);
  const vnet = driver instanceof AfPacketRingDriver && driver.vnetHdr;
  for (let i = 0; i < n; i++) {
    const buf = batch.buf[i];
    const hdr = batch.off[i] - VIRTIO_NET_HDR_LEN; // right in front of the Ethernet header
    out.push({
      frame: buf.slice(batch.off[i], batch.off[i] + batch.len[i]),
      flags: batch.flags[i],
      vnet: vnet
        ? {
          flags: vnetFlags(buf, hdr),
          gsoType: vnetGsoType(buf, hdr),
          gsoSize: vnetGsoSize(buf, hdr),
          hdrLen: vnetHdrLen(buf, hdr),
        }
        : undefined,
    });
  }
  driver.release(batch);
  return out;
}

/** Poll `driver` for frames matching `match` until `done(frames)` or the timeout. */
async function collect(
  driver: AfPacketRingDriver | AfPacketDriver,
  match: (r: Received) => boolean,
  done: (all: Received[]) => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<Received[]> {
  const batch = new RxBatch(64);
  const all: Received[] = [];
  await waitFor(() => {
    for (const r of drain(driver, batch)) if (match(r)) all.push(r);
    return done(all);
  }, { what, timeoutMs, intervalMs: 2 });
  return all;
}

function u16(f: Uint8Array, at: number): number {
  return (f[at] << 8) | f[at + 1];
}

function u32(f: Uint8Array, at: number): number {
  return ((f[at] << 24) | (f[at + 1] << 16) | (f[at + 2] << 8) | f[at + 3]) >>> 0;
}

function ip4(text: string): number {
  return text.split(".").reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
}

/** Is `f` IPv4 with protocol `proto` to port `dport`? */
function isIpv4To(f: Uint8Array, proto: number, dport: number): boolean {
  return f.length >= ETH + IPV4 + UDP && u16(f, 12) === 0x0800 && f[ETH + 9] === proto &&
    u16(f, ETH + IPV4 + 2) === dport;
}

/** True when the L4 checksum of an IPv4 frame (20-byte IP header) verifies. */
function l4ChecksumValid(f: Uint8Array): boolean {
  const ipLen = u16(f, ETH + 2);
  const l4Len = ipLen - IPV4;
  const ph = pseudoHeaderSumV4(u32(f, ETH + 12), u32(f, ETH + 16), f[ETH + 9], l4Len);
  return verifyChecksum(f, ETH + IPV4, l4Len, ph);
}

/** Options of {@link ipv4Frame}. */
interface FrameSpec {
  dstMac: Uint8Array;
  srcMac: Uint8Array;
  src: string;
  dst: string;
  proto: typeof PROTO_TCP | typeof PROTO_UDP;
  sport: number;
  dport: number;
  payload: Uint8Array;
  /** Leave the L4 checksum partial (pseudo-header sum only), as for NEEDS_CSUM. */
  partial: boolean;
  /** Add this to the pseudo-header sum: a deliberately wrong checksum. */
  skew?: number;
  seq?: number;
}

/** An Ethernet + IPv4 + UDP/TCP frame with a correct IP checksum. */
function ipv4Frame(s: FrameSpec): Uint8Array {
  const l4Header = s.proto === PROTO_TCP ? TCP : UDP;
  const l4Len = l4Header + s.payload.length;
  const f = new Uint8Array(ETH + IPV4 + l4Len);
  const v = new DataView(f.buffer);
  f.set(s.dstMac, 0);
  f.set(s.srcMac, 6);
  v.setUint16(12, 0x0800);
  f[ETH] = 0x45;
  v.setUint16(ETH + 2, IPV4 + l4Len);
  v.setUint16(ETH + 4, 0x1234);
  v.setUint16(ETH + 6, 0x4000); // DF
  f[ETH + 8] = 64;
  f[ETH + 9] = s.proto;
  v.setUint32(ETH + 12, ip4(s.src));
  v.setUint32(ETH + 16, ip4(s.dst));
  v.setUint16(ETH + 10, internetChecksum(f, ETH, IPV4));
  const l4 = ETH + IPV4;
  v.setUint16(l4, s.sport);
  v.setUint16(l4 + 2, s.dport);
  let csumAt: number;
  if (s.proto === PROTO_UDP) {
    v.setUint16(l4 + 4, l4Len);
    csumAt = l4 + 6;
  } else {
    v.setUint32(l4 + 4, s.seq ?? 1);
    f[l4 + 12] = 0x50; // data offset 5
    f[l4 + 13] = 0x18; // PSH|ACK
    v.setUint16(l4 + 14, 65535);
    csumAt = l4 + 16;
  }
  f.set(s.payload, l4 + l4Header);
  // RFC 768 / RFC 9293 §3.1: the checksum covers a pseudo-header; a partial checksum holds only
  // its folded (uncomplemented) sum, and the kernel completes it over the L4 bytes.
  const ph = pseudoHeaderSumV4(ip4(s.src), ip4(s.dst), s.proto, l4Len) + (s.skew ?? 0);
  if (s.partial) v.setUint16(csumAt, foldSum(ph));
  else v.setUint16(csumAt, internetChecksum(f, l4, l4Len, ph) || 0xffff);
  return f;
}

/** A payload whose bytes depend on their position (and a seed). */
function pattern(len: number, seed: number): Uint8Array {
  const p = new Uint8Array(len);
  for (let i = 0; i < len; i++) p[i] = (i * 7 + seed + (i >>> 8)) & 0xff;
  return p;
}

/** A broadcast frame with the experimental EtherType. */
function broadcastFrame(src: Uint8Array, marker: number, len = 60): Uint8Array {
  const frame = new Uint8Array(len);
  frame.fill(0xff, 0, 6);
  frame.set(src, 6);
  frame[12] = ETHERTYPE_EXPERIMENTAL >> 8;
  frame[13] = ETHERTYPE_EXPERIMENTAL & 0xff;
  frame[14] = marker;
  return frame;
}

/** Counters of the kernel's UDP MIB (`/proc/net/snmp`) in the peer namespace. */
function peerUdpMib(pair: VethPair): Promise<Record<string, number>> {
  return peerMib(pair, "Udp");
}

/** Counters of one MIB (`Ip`, `Udp`, … of `/proc/net/snmp`) in the peer namespace. */
async function peerMib(pair: VethPair, mib: string): Promise<Record<string, number>> {
  const lines = (await pair.run(["cat", "/proc/net/snmp"])).stdout.split("\n")
    .filter((l) => l.startsWith(`${mib}:`));
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

/** A static neighbour entry so the peer sends IP to the stack's MAC without ARP. */
async function staticNeighbour(pair: VethPair): Promise<void> {
  const r = await pair.run([
    "ip",
    "neigh",
    "replace",
    pair.stackAddr,
    "lladdr",
    formatMac(pair.stackMac),
    "dev",
    pair.peerIf,
    "nud",
    "permanent",
  ]);
  assert.equal(r.code, 0, r.stderr);
}

/**
 * Write `frames` to a pcap file and let tshark decode it with checksum validation on; returns
 * one array of field values per frame.
 */
async function tsharkFields(frames: Uint8Array[], fields: string[]): Promise<string[][]> {
  const path = await Deno.makeTempFile({ prefix: "ustack-ring-", suffix: ".pcap" });
  try {
    const pcap = PcapWriter.open(path);
    const t = Date.now();
    for (const f of frames) pcap.write(f, 0, f.length, t);
    pcap.close();
    const args = ["tshark", "-r", path, "-n", "-T", "fields", "-E", "separator=,"];
    for (const p of ["ip", "tcp", "udp"]) args.push("-o", `${p}.check_checksum:TRUE`);
    for (const field of fields) args.push("-e", field);
    const r = await runCommand(args);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split("\n").map((line) => line.split(","));
  } finally {
    await Deno.remove(path);
  }
}

/** tshark's `*.checksum.status` value for a verified-good checksum. */
const TSHARK_CHECKSUM_GOOD = "1";

/**
 * Spawn a kernel UDP receiver on the peer (socat, reading up to `bufferBytes` per datagram);
 * resolves to the bytes it got when stopped.
 */
function udpReceiver(
  pair: VethPair,
  port: number,
  bufferBytes = 8192,
): { stop(): Promise<Uint8Array> } {
  const child = pair.spawn(["socat", "-u", "-b", String(bufferBytes), `UDP-RECV:${port}`, "-"]);
  let stopped: Promise<Uint8Array> | null = null;
  return {
    stop(): Promise<Uint8Array> {
      return stopped ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        return (await child.output()).stdout;
      })();
    },
  };
}

/**
 * Send `payload` to the peer's UDP port 9000 through `driver` as one frame with a partial UDP
 * checksum and the GSO request `gsoType`/`gsoSize` (a datagram to be fragmented, GSO_UDP,
 * carries no DF); then wait until the peer's UDP MIB counted `datagrams` more than `before` and
 * check that exactly that many arrived, with no checksum error.
 */
async function sendOffloadedUdp(
  pair: VethPair,
  driver: AfPacketRingDriver,
  payload: Uint8Array,
  gso: { type: number; size: number; datagrams: number },
  before: Record<string, number>,
): Promise<void> {
  const frame = ipv4Frame({
    dstMac: pair.peerMac,
    srcMac: driver.mac,
    src: pair.stackAddr,
    dst: pair.peerAddr,
    proto: PROTO_UDP,
    sport: 40000,
    dport: 9000,
    payload,
    partial: true,
  });
  // A datagram to be fragmented carries no DF (its header checksum is the kernel's).
  if (gso.type === GSO_UDP) frame[ETH + 6] = 0;
  const offload = new TxOffload();
  offload.needsCsum = true;
  offload.csumStart = ETH + IPV4;
  offload.csumOffset = 6;
  offload.gsoType = gso.type;
  offload.gsoSize = gso.size;
  offload.hdrLen = ETH + IPV4 + UDP;
  assert.ok(driver.transmit(frame, 0, frame.length, offload));
  driver.flush();
  const want = before.InDatagrams + gso.datagrams;
  await waitFor(async () => (await peerUdpMib(pair)).InDatagrams >= want, {
    what: `${gso.datagrams} datagram(s) at the peer's socket`,
    intervalMs: 20,
  });
  const after = await peerUdpMib(pair);
  assert.equal(after.InDatagrams - before.InDatagrams, gso.datagrams);
  assert.equal(after.InCsumErrors - before.InCsumErrors, 0);
}

/** Wait until the peer has a UDP socket bound to `port`. */
async function udpPortOpen(pair: VethPair, port: number): Promise<void> {
  await waitFor(async () => {
    const r = await pair.run(["cat", "/proc/net/udp"]);
    return r.stdout.includes(`:${port.toString(16).toUpperCase().padStart(4, "0")} `);
  }, { what: `a UDP socket on port ${port}`, intervalMs: 20 });
}

// --- open / close ---------------------------------------------------------------------------------

interopTest(
  "af_packet_ring: opens with the link's MAC/MTU, sizes its rings, refuses bad options",
  async () => {
    await withVethPair({ mtu: 9000 }, (pair) => {
      const driver = openRing(pair);
      try {
        assert.equal(driver.kind, "af_packet"); // the --driver name that opens it
        assert.equal(driver.name, "us0");
        assert.deepEqual(driver.mac, pair.stackMac);
        assert.equal(driver.mtu, 9000);
        assert.equal(driver.linkMtu, 9000);
        assert.ok(driver.fd >= 0);
        assert.equal(driver.vnetHdr, true);
        // UFO (on by default) needs the qdisc path: the kernel fragments on it only.
        assert.equal(driver.qdiscBypass, false, "UFO: the qdisc is not bypassed");
        // The default at MTU 9000: the split receive, a V2 ring of MTU-sized slots (76 + 14 + 4
        // + 9000, 16-aligned: 115 per 1 MiB block, 32 blocks) and a second ring of 240 64 KiB
        // slots for super-frames.
        assert.equal(driver.rxRing, "v2");
        assert.equal(driver.rxBlockBytes, 1024 * 1024);
        assert.equal(driver.rxBlocks, 32);
        assert.equal(driver.rxFrames, 32 * 115);
        assert.equal(driver.rxFrameBytes, 9104);
        assert.equal(driver.rxSplit, true);
        assert.equal(driver.rxLargeFrames, 240);
        assert.equal(driver.rxRetireMs, 0);
        assert.equal(driver.txFrames, 128);
        assert.equal(driver.txFrameBytes, 65_536);
        assert.equal(driver.maxGsoBytes, 65_536 - 32 - 10, "V2 TX data at +32");
        assert.deepEqual({ ...driver.capabilities }, {
          txChecksumOffload: true,
          tcpSegmentationOffload: true,
          udpSegmentationOffload: true,
          udpFragmentationOffload: true,
          maxGsoBytes: 65_494,
        });
        const noUfo = openRing(pair, { udpFragmentationOffload: false });
        try {
          assert.equal(noUfo.qdiscBypass, true, "veth segments itself: the bypass stays on");
          assert.equal(noUfo.capabilities.udpFragmentationOffload, false);
        } finally {
          noUfo.close();
        }
        assert.equal(driver.ringBytes, 32 * 1024 * 1024 + 128 * 65_536);
      } finally {
        driver.close();
      }
      // Without the split (as in a fanout group): 512 slots of 68 KiB asked for, 35 whole 1 MiB
      // blocks of 15.
      const big = openRing(pair, { rxSplit: false });
      try {
        assert.equal(big.rxBlocks, 35);
        assert.equal(big.rxFrames, 525);
        assert.equal(big.rxFrameBytes, 69_904);
        assert.equal(big.rxFrameBytes, AF_PACKET_RING_V2_FRAME_BYTES);
        assert.equal(big.rxSplit, false);
        assert.equal(big.ringBytes, 35 * 1024 * 1024 + 128 * 65_536);
      } finally {
        big.close();
      }
      assert.equal(driver.fd, -1);
      assert.throws(
        () => driver.close(),
        (e: unknown) => e instanceof SyscallError && e.code === "EBADF",
      );
      assert.throws(
        () => driver.receive(new RxBatch(1), 1),
        (e: unknown) => e instanceof SyscallError && e.code === "EBADF",
      );

      const v3 = openRing(pair, { rxRing: "v3" });
      try {
        assert.equal(v3.rxRing, "v3");
        assert.equal(v3.rxBlockBytes, 256 * 1024);
        assert.equal(v3.rxBlocks, 32);
        assert.equal(v3.rxFrames, 0);
        assert.equal(v3.rxFrameBytes, 0);
        assert.equal(v3.rxRetireMs, 1);
        assert.equal(v3.txFrames, 128);
        assert.equal(v3.txFrameBytes, 65_536);
        assert.equal(v3.maxGsoBytes, 65_536 - 48 - 10, "V3 TX data at +48");
        assert.equal(v3.capabilities.maxGsoBytes, 65_478);
        assert.equal(v3.ringBytes, 32 * 256 * 1024 + 128 * 65_536);
      } finally {
        v3.close();
      }
      const small = openRing(pair, { rxFrames: 16, rxSplit: false });
      try {
        assert.equal(small.rxFrames, 30, "rounded up to whole blocks");
        assert.equal(small.rxBlocks, 2);
      } finally {
        small.close();
      }

      // Up to MTU 4096 (9216 with the split receive) the V2 slots are MTU-sized and
      // PACKET_COPY_THRESH takes bigger frames (at MTU 1500: 76 + 14 + 4 + 1500, 16-aligned =
      // 1600 bytes, 655 per 1 MiB block).
      const mtu1500 = openRing(pair, { mtu: 1500 });
      try {
        assert.equal(mtu1500.rxFrameBytes, 9104, "slots follow the link's MTU (9000), not --mtu");
      } finally {
        mtu1500.close();
      }
      const smallSlots = openRing(pair, { rxSmallSlots: true });
      try {
        assert.equal(smallSlots.rxCopyMode, true);
        assert.equal(smallSlots.rxFrameBytes, 9104); // 76 + 14 + 4 + 9000, 16-aligned
        assert.equal(smallSlots.rxBlocks, 32, "32 MiB by default");
        assert.equal(smallSlots.rxFrames, 32 * 115);
      } finally {
        smallSlots.close();
      }

      // Without the vnet header: no offloads, MTU-sized TX slots packed into 64 KiB blocks.
      for (const [rxRing, slot, perBlock] of [["v2", 1552, 42], ["v3", 1568, 41]] as const) {
        const plain = openRing(pair, { rxRing, vnetHdr: false, mtu: 1500, txFrames: 10 });
        try {
          assert.equal(plain.capabilities, NO_OFFLOADS);
          assert.equal(plain.maxGsoBytes, 0);
          // V2: 32 + 1514 + 4, 16-aligned; V3: 48 + 1514 + 4.
          assert.equal(plain.txFrameBytes, slot, rxRing);
          assert.equal(plain.txFrames, perBlock, `${rxRing}: one 64 KiB block of slots`);
          assert.equal(plain.mtu, 1500);
        } finally {
          plain.close();
        }
      }

      assert.throws(
        () => openRing(pair, { mtu: 9001 }),
        (e: unknown) => e instanceof SyscallError && e.code === "EINVAL",
      );
      assert.throws(
        () => AfPacketRingDriver.open({ ifname: "ustk-none0", netns: pair.stackNs }),
        (e: unknown) => e instanceof SyscallError && e.code === "ENODEV",
      );
      const v3Only = { rxRing: "v3" } as const;
      assert.throws(() => openRing(pair, { ...v3Only, rxBlockBytes: 100_000 }), RangeError);
      assert.throws(() => openRing(pair, { ...v3Only, rxBlockBytes: 64 * 1024 }), RangeError);
      assert.throws(() => openRing(pair, { ...v3Only, rxBlocks: 1 }), RangeError);
      assert.throws(() => openRing(pair, { txFrames: 0 }), RangeError);
      assert.throws(() => openRing(pair, { rxFrames: 0 }), RangeError);
      assert.throws(
        () => openRing(pair, { rxRing: "v4" as AfPacketRxRingVersion }),
        RangeError,
      );
      // Options of the other ring version are refused, not silently ignored.
      assert.throws(() => openRing(pair, { rxBlocks: 4 }), /applies to rxRing "v3" only/);
      assert.throws(() => openRing(pair, { rxRetireMs: 2 }), /applies to rxRing "v3" only/);
      assert.throws(() => openRing(pair, { ...v3Only, rxFrames: 64 }), /"v2" only/);
    });
  },
);

// --- receive ----------------------------------------------------------------------------------------

interopTest(
  "af_packet_ring: the kernel's ARP request arrives in place, one view, no syscall",
  async () => {
    await withVethPair({}, async (pair) => {
      for (const [rxRing, vnetHdr] of RINGS.flatMap((r) => [[r, true], [r, false]] as const)) {
        const driver = openRing(pair, { rxRing, vnetHdr });
        let view: Uint8Array | null = null;
        try {
          // A fresh neighbour entry: the kernel asks at once instead of at its next retry.
          await pair.run(["ip", "neigh", "flush", "dev", pair.peerIf]);
          const ping = pair.run(["ping", "-c", "2", "-i", "0.3", "-W", "1", pair.stackAddr]);
          const batch = new RxBatch(16);
          const arp = await waitFor(() => {
            const n = driver.receive(batch, batch.capacity);
            try {
              for (let i = 0; i < n; i++) {
                // Every frame is a window into the same view of the mapping.
                view ??= batch.buf[i];
                assert.equal(batch.buf[i], view, "one view of the ring, never a new one");
                const f = batch.buf[i].subarray(batch.off[i], batch.off[i] + batch.len[i]);
                if (u16(f, 12) === 0x0806 && f.subarray(38, 42).join(".") === pair.stackAddr) {
                  return { frame: f.slice(), flags: batch.flags[i] };
                }
              }
              return null;
            } finally {
              driver.release(batch);
            }
          }, { what: "the ARP request for 198.18.0.2", intervalMs: 2 });
          await ping;
          assert.equal(arp.frame.length, 42);
          assert.deepEqual(arp.frame.subarray(0, 6), new Uint8Array(6).fill(0xff));
          assert.deepEqual(arp.frame.subarray(6, 12), pair.peerMac);
          assert.equal(arp.frame.subarray(28, 32).join("."), pair.peerAddr);
          assert.equal(arp.flags & RX_GSO, 0);
          assert.ok(driver.stats.rxFrames >= 1);
          // V3 hands over blocks; V2 frames one by one.
          assert.equal(driver.stats.rxBlocks >= 1, rxRing === "v3");
          assert.equal(
            driver.stats.syscalls,
            0,
            `receive makes no syscall (${rxRing}, vnetHdr ${vnetHdr})`,
          );
        } finally {
          driver.close();
        }
        // The mapping is gone: the old view reads as empty instead of faulting.
        assert.equal(view!.length, 0);
      }
    });
  },
  { tools: ["ping"] },
);

interopTest(
  "af_packet_ring: 8000-byte UDP datagrams from a kernel socket arrive intact, checksum flags as the kernel says",
  async () => {
    await withVethPair({ mtu: 9000 }, async (pair) => {
      await staticNeighbour(pair);
      const dir = await Deno.makeTempDir({ prefix: "ustack-ring-" });
      try {
        const datagrams = 3;
        const payload = pattern(8000 * datagrams, 5);
        await Deno.writeFile(`${dir}/payload.bin`, payload);
        // -b 8000: one read of the file, one datagram of 8000 bytes.
        const send = () =>
          pair.run([
            "socat",
            "-u",
            "-b",
            "8000",
            `OPEN:${dir}/payload.bin`,
            `UDP-SENDTO:${pair.stackAddr}:9000,sourceport=4000`,
          ]);
        for (const [rxRing, vnetHdr] of RINGS.flatMap((r) => [[r, true], [r, false]] as const)) {
          for (const peerCsumOffload of [true, false]) {
            setTxChecksum(pair.peerNs, pair.peerIf, peerCsumOffload);
            const driver = openRing(pair, { rxRing, vnetHdr });
            try {
              const sent = await send();
              assert.equal(sent.code, 0, sent.stderr);
              const got = await collect(
                driver,
                (r) => isIpv4To(r.frame, PROTO_UDP, 9000),
                (all) => all.length >= datagrams,
                `${datagrams} UDP datagrams (${rxRing}, vnetHdr ${vnetHdr}, peer csum ${peerCsumOffload})`,
              );
              for (let i = 0; i < datagrams; i++) {
                const { frame, flags } = got[i];
                assert.equal(frame.length, ETH + IPV4 + UDP + 8000);
                assert.equal(u16(frame, ETH + 2), IPV4 + UDP + 8000, "IP total length");
                assert.deepEqual(
                  frame.subarray(ETH + IPV4 + UDP),
                  payload.subarray(i * 8000, (i + 1) * 8000),
                  "payload intact",
                );
                assert.equal(flags & RX_GSO, 0);
                if (vnetHdr) {
                  const v = got[i].vnet!;
                  assert.equal(v.gsoType, VIRTIO_NET_HDR_GSO_NONE);
                  const want = peerCsumOffload ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
                  assert.equal(v.flags & ~VIRTIO_NET_HDR_F_DATA_VALID, want, "vnet flags");
                } else assert.equal(got[i].vnet, undefined);
                if (peerCsumOffload) {
                  // veth passes the sender's CHECKSUM_PARTIAL through: only the pseudo-header
                  // sum is in the field, and the frame says so.
                  assert.equal(flags & RX_CSUM_PARTIAL, RX_CSUM_PARTIAL, `flags ${flags}`);
                  assert.equal(l4ChecksumValid(frame), false);
                } else {
                  // The sender's kernel finished the checksum in software: nothing to flag, and
                  // it verifies.
                  assert.equal(flags & (RX_CSUM_PARTIAL | RX_CSUM_VALID), 0, `flags ${flags}`);
                  assert.equal(l4ChecksumValid(frame), true);
                }
              }
            } finally {
              driver.close();
            }
          }
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
  { tools: ["socat"] },
);

for (const rxRing of RINGS) {
  interopTest(
    `af_packet_ring: a kernel TCP flow's GSO super-frames arrive whole, flagged RX_GSO|RX_CSUM_PARTIAL [${rxRing}]`,
    async () => {
      await withVethPair({}, async (pair) => {
        // Only here the kernel gets the stack's address on us0, so that a real kernel TCP flow
        // runs over the link; the ring sees it as a tap would. No stack runs in this test.
        const addr = await pair.runInStackNs(
          ["ip", "addr", "add", `${pair.stackAddr}/24`, "dev", pair.stackIf],
        );
        assert.equal(addr.code, 0, addr.stderr);
        // V2 at MTU 1500: the default split receive with the vnet header, the copy path of one
        // ring of MTU-sized slots without it.
        const withVnet = openRing(pair, { rxRing, vnetHdr: true });
        const withoutVnet = openRing(pair, {
          rxRing,
          vnetHdr: false,
          ...(rxRing === "v2" ? { rxSplit: false } : {}),
        });
        try {
          const sink = pair.spawnInStackNs(
            ["socat", "-u", "TCP-LISTEN:5001,reuseaddr", "OPEN:/dev/null"],
          );
          await waitFor(async () => {
            const r = await pair.runInStackNs(["cat", "/proc/net/tcp"]);
            return r.stdout.includes(":1389 "); // 5001 in hex
          }, { what: "the TCP listener", intervalMs: 20 });
          const flow = pair.run([
            "sh",
            "-c",
            `head -c 4000000 /dev/zero | socat -u - TCP:${pair.stackAddr}:5001`,
          ]);
          const big = (r: Received) =>
            isIpv4To(r.frame, PROTO_TCP, 5001) && r.frame.length > ETH + pair.mtu;
          const [a, b] = await Promise.all([
            collect(withVnet, big, (all) => all.length >= 3, "super-frames (vnetHdr)", 15_000),
            collect(withoutVnet, big, (all) => all.length >= 3, "super-frames (plain)", 15_000),
          ]);
          const done = await flow;
          assert.equal(done.code, 0, done.stderr);
          await sink.status;
          for (const { frame, vnet } of a) {
            // The kernel's own word for it: a TCPv4 GSO frame with a partial checksum.
            assert.equal(vnet!.gsoType, VIRTIO_NET_HDR_GSO_TCPV4);
            assert.equal(vnet!.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_NEEDS_CSUM);
            assert.equal(vnet!.hdrLen <= ETH + IPV4 + 60, true);
            assert.ok(vnet!.gsoSize > 0 && vnet!.gsoSize <= pair.mtu - IPV4 - TCP);
            assert.ok(frame.length - vnet!.hdrLen > vnet!.gsoSize, "more than one segment");
          }
          for (const [name, frames] of [["vnetHdr", a], ["plain", b]] as const) {
            for (const { frame, flags } of frames) {
              assert.ok(frame.length <= 65_549, `${name}: ${frame.length} bytes`);
              assert.equal(u16(frame, ETH + 2), frame.length - ETH, `${name}: IP length`);
              assert.equal(flags & RX_GSO, RX_GSO, `${name}: RX_GSO (flags ${flags})`);
              assert.equal(flags & RX_CSUM_PARTIAL, RX_CSUM_PARTIAL, `${name}: partial`);
            }
          }
          // The kernel's own ACKs leave through us0; neither socket hands them back.
          assert.equal(withVnet.stats.rxTruncated, 0);
          assert.equal(withVnet.stats.rxDropped, 0);
          if (rxRing === "v2") {
            // MTU 1500, split: the super-frames came whole through the 64 KiB slots.
            assert.equal(withVnet.rxCopyMode, true);
            assert.equal(withVnet.rxSplit, true);
            const large = withVnet.stats.rxLargeRingFrames;
            assert.ok(large >= 3, `rxLargeRingFrames ${large}`);
            assert.equal(withVnet.stats.rxCopied, 0);
            // One ring of MTU-sized slots: whole through the socket queue.
            assert.equal(withoutVnet.rxSplit, false);
            assert.ok(withoutVnet.stats.rxCopied >= 3, `rxCopied ${withoutVnet.stats.rxCopied}`);
          }
        } finally {
          withVnet.close();
          withoutVnet.close();
        }
      });
    },
    { tools: ["socat"] },
  );
}

interopTest(
  "af_packet_ring: a V2 ring shows a lone frame at once; a V3 block waits for its retire timer",
  async () => {
    await withVethPair({}, async (pair) => {
      // The peer sends with sendmmsg: veth hands the frame to us0 in a softirq that runs before
      // the syscall returns, so it is in our ring by the time flush() is back.
      const peer = AfPacketDriver.open({ ifname: pair.peerIf, netns: pair.peerNs });
      try {
        for (const rxRing of RINGS) {
          const driver = openRing(pair, { rxRing });
          const batch = new RxBatch(64);
          const trials = 20;
          let atOnce = 0;
          try {
            for (let t = 0; t < trials; t++) {
              const frame = broadcastFrame(peer.mac, t + 1);
              frame[15] = 0xa5;
              const mine = (r: Received) =>
                u16(r.frame, 12) === ETHERTYPE_EXPERIMENTAL && r.frame[14] === t + 1 &&
                r.frame[15] === 0xa5;
              assert.ok(peer.transmit(frame, 0, frame.length, null));
              peer.flush();
              // Not a timed assert: at most five polls, with nothing but a resolved promise
              // (microtasks only, well under a microsecond each) between them.
              let seen = false;
              for (let poll = 0; poll < 5 && !seen; poll++) {
                seen = drain(driver, batch).some(mine);
                await Promise.resolve();
              }
              if (seen) atOnce++;
              else await collect(driver, mine, (all) => all.length > 0, `frame ${t} (${rxRing})`);
            }
          } finally {
            driver.close();
          }
          if (rxRing === "v2") {
            assert.equal(atOnce, trials, "v2: every frame within five polls");
          } else {
            // A 1 ms retire timer can fire within five polls only by chance (a few % a trial).
            assert.ok(atOnce < trials, `v3: ${atOnce} of ${trials} frames within five polls`);
          }
        }
      } finally {
        peer.close();
      }
    });
  },
);

for (const rxRing of RINGS) {
  interopTest(
    `af_packet_ring: a 60 KB GSO super-frame from the peer arrives whole in one slot [${rxRing}]`,
    async () => {
      await withVethPair({}, async (pair) => {
        // The peer's own ring driver sends TCP super-segments as veth passes them on: whole,
        // with the GSO and partial-checksum metadata the kernel keeps for them.
        const peer = AfPacketRingDriver.open({ ifname: pair.peerIf, netns: pair.peerNs, rxRing });
        const driver = openRing(pair, { rxRing });
        try {
          const sizes = [60_000, peer.maxGsoBytes - ETH - IPV4 - TCP];
          const offload = new TxOffload();
          offload.needsCsum = true;
          offload.csumStart = ETH + IPV4;
          offload.csumOffset = 16;
          offload.gsoType = GSO_TCPV4;
          offload.gsoSize = 1448;
          offload.hdrLen = ETH + IPV4 + TCP;
          const payloads = sizes.map((n, i) => pattern(n, 20 + i));
          for (const [i, payload] of payloads.entries()) {
            const frame = ipv4Frame({
              dstMac: pair.stackMac,
              srcMac: peer.mac,
              src: pair.peerAddr,
              dst: pair.stackAddr,
              proto: PROTO_TCP,
              sport: 40000 + i,
              dport: 5555,
              payload,
              partial: true,
            });
            assert.ok(peer.transmit(frame, 0, frame.length, offload), `${frame.length} bytes`);
          }
          peer.flush();
          const got = await collect(
            driver,
            (r) => isIpv4To(r.frame, PROTO_TCP, 5555),
            (all) => all.length >= payloads.length,
            "the super-frames",
          );
          for (const [i, payload] of payloads.entries()) {
            const { frame, flags, vnet } = got[i];
            assert.equal(frame.length, ETH + IPV4 + TCP + payload.length, `frame ${i} whole`);
            assert.equal(u16(frame, ETH + IPV4), 40000 + i, "in order");
            assert.deepEqual(frame.subarray(ETH + IPV4 + TCP), payload, "payload intact");
            assert.equal(flags & (RX_GSO | RX_CSUM_PARTIAL), RX_GSO | RX_CSUM_PARTIAL);
            assert.equal(vnet!.gsoType, VIRTIO_NET_HDR_GSO_TCPV4);
            assert.equal(vnet!.gsoSize, 1448);
            assert.equal(vnet!.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_NEEDS_CSUM);
          }
          assert.ok(got[1].frame.length > 65_000, `largest: ${got[1].frame.length} bytes`);
          assert.equal(driver.stats.rxTruncated, 0);
          assert.equal(driver.stats.rxDropped, 0);
        } finally {
          driver.close();
          peer.close();
        }
      });
    },
  );
}

for (const rxRing of RINGS) {
  interopTest(
    `af_packet_ring: a ring overrun is counted from the kernel's statistics [${rxRing}]`,
    async () => {
      await withVethPair({ mtu: 9000 }, async (pair) => {
        await staticNeighbour(pair);
        const dir = await Deno.makeTempDir({ prefix: "ustack-ring-" });
        // V2: one block of 15 slots of 68 KiB (no split receive, else MTU-sized slots, 115 a
        // block), one frame each. V3: two 128 KiB blocks hold about 28 frames of 8 KB.
        const driver = openRing(
          pair,
          rxRing === "v2"
            ? { rxRing, rxFrames: 15, rxSplit: false }
            : { rxRing, rxBlockBytes: 128 * 1024, rxBlocks: 2 },
        );
        try {
          await Deno.writeFile(`${dir}/payload.bin`, pattern(8000 * 100, 1));
          const flood = () =>
            pair.run([
              "socat",
              "-u",
              "-b",
              "8000",
              `OPEN:${dir}/payload.bin`,
              `UDP-SENDTO:${pair.stackAddr}:9000`,
            ]);
          assert.equal((await flood()).code, 0);
          // Nobody read while 100 frames came: the ring froze and the kernel dropped the rest.
          const batch = new RxBatch(256);
          let first = 0;
          for (let n; (n = drain(driver, batch).length) > 0;) first += n;
          assert.ok(first > 0 && first < 100, `first drain ${first}`);
          if (rxRing === "v2") assert.equal(first, 15, "every slot, then nothing");
          // The next frame (V2) or closed block (V3) carries TP_STATUS_LOSING: receive reads the
          // counters itself.
          assert.equal((await flood()).code, 0);
          await waitFor(() => {
            drain(driver, batch);
            return driver.stats.rxKernelDrops > 0;
          }, { what: "the kernel's drops to be counted", intervalMs: 5 });
          // Only a V3 ring freezes (and says so); a V2 ring just has no free slot.
          assert.equal(
            driver.stats.rxRingFreezes >= 1,
            rxRing === "v3",
            `freezes ${driver.stats.rxRingFreezes}`,
          );
          assert.ok(driver.stats.rxDropped >= driver.stats.rxKernelDrops);
          assert.ok(driver.stats.syscalls >= 1 && driver.stats.syscalls <= 5, "reads on loss only");
          // Every frame of both floods is received or counted as dropped, once the kernel has
          // delivered the last ones (socat's exit does not wait for that).
          await waitFor(() => {
            drain(driver, batch);
            driver.refreshStats();
            return driver.stats.rxKernelDrops + driver.stats.rxFrames >= 100 + first;
          }, { what: `all frames accounted for (first ${first})`, intervalMs: 5 });
        } finally {
          driver.close();
          await Deno.remove(dir, { recursive: true });
        }
      });
    },
    { tools: ["socat"] },
  );
}

interopTest(
  "af_packet_ring: at MTU 9000 the default ring holds 1,000 unread 8,900-byte datagrams",
  async () => {
    // The split receive's MTU-sized slots: 3,680 frames in 32 MiB, where the 68 KiB slots held
    // 525 in 35 MiB and the kernel dropped the rest of a burst the stack had not read yet.
    await withVethPair({ mtu: 9000 }, async (pair) => {
      await staticNeighbour(pair);
      const dir = await Deno.makeTempDir({ prefix: "ustack-ring-" });
      const driver = openRing(pair);
      try {
        const datagrams = 1000;
        await Deno.writeFile(`${dir}/payload.bin`, pattern(8900 * datagrams, 3));
        const r = await pair.run([
          "socat",
          "-u",
          "-b",
          "8900",
          `OPEN:${dir}/payload.bin`,
          `UDP-SENDTO:${pair.stackAddr}:9000`,
        ]);
        assert.equal(r.code, 0);
        // Nothing was read while they came. Count them as they drain (socat's exit does not
        // wait for the kernel's delivery of the last ones).
        const batch = new RxBatch(256);
        let got = 0;
        await waitFor(() => {
          for (const f of drain(driver, batch)) {
            // IPv4 (EtherType 0x0800) UDP to port 9000, 8,900 bytes of payload.
            if (f.frame[12] === 0x08 && f.frame[13] === 0x00 && f.frame.length === 14 + 8928) got++;
          }
          return got >= datagrams;
        }, { what: `${datagrams} datagrams`, intervalMs: 5 });
        driver.refreshStats();
        assert.equal(driver.stats.rxKernelDrops, 0);
        assert.equal(got, datagrams);
      } finally {
        driver.close();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
  { tools: ["socat"] },
);

// --- transmit --------------------------------------------------------------------------------------

for (const rxRing of RINGS) {
  interopTest(
    `af_packet_ring: 100 frames cost one kick and reach the peer; own frames are not received [${rxRing}]`,
    async () => {
      await withVethPair({}, async (pair) => {
        for (const vnetHdr of [true, false]) {
          const driver = openRing(pair, { rxRing, vnetHdr });
          try {
            driver.flush();
            assert.equal(driver.stats.txKicks, 0, "nothing pending: no kick");
            const before = await pair.peerCounters();
            const frame = new Uint8Array(1600);
            frame.set(broadcastFrame(driver.mac, 7, 1514), 50);
            for (let i = 0; i < 100; i++) {
              frame[50 + 15] = i;
              assert.ok(driver.transmit(frame, 50, 1514, null));
            }
            assert.equal(driver.txPending, 100);
            driver.flush();
            assert.equal(driver.txPending, 0);
            assert.equal(driver.stats.txKicks, 1);
            assert.equal(driver.stats.syscalls, 1);
            assert.equal(driver.stats.txFrames, 100);
            assert.equal(driver.stats.txBytes, 151_400);
            assert.equal(driver.stats.txRingFull, 0);
            await waitFor(
              async () => (await pair.peerCounters()).rxPackets >= before.rxPackets + 100,
              { what: "100 frames at the peer", intervalMs: 20 },
            );
            const after = await pair.peerCounters();
            assert.equal(after.rxBytes - before.rxBytes, 151_400);
            // A second round wraps the ring (128 or 164 slots): still no refusal.
            for (let i = 0; i < 100; i++) assert.ok(driver.transmit(frame, 50, 1514, null));
            driver.flush();
            assert.ok(driver.stats.txKicks <= 3, `kicks ${driver.stats.txKicks}`);
            assert.equal(driver.stats.txDropped, 0);
            const batch = new RxBatch(64);
            for (const r of drain(driver, batch)) {
              assert.notEqual(u16(r.frame, 12), ETHERTYPE_EXPERIMENTAL, "own frame looped back");
            }
          } finally {
            driver.close();
          }
        }
      });
    },
  );
}

for (const rxRing of RINGS) {
  interopTest(
    `af_packet_ring: a full TX ring refuses and counts, then recovers [${rxRing}]`,
    async () => {
      await withVethPair({}, async (pair) => {
        const driver = openRing(pair, { rxRing, txFrames: 4 }); // vnetHdr: one 64 KiB slot per block
        try {
          assert.equal(driver.txFrames, 4);
          const frame = broadcastFrame(driver.mac, 9);
          const before = await pair.peerCounters();
          // With the link down the kernel sends nothing: the slots stay taken.
          const down = await pair.runInStackNs(["ip", "link", "set", pair.stackIf, "down"]);
          assert.equal(down.code, 0, down.stderr);
          for (let i = 0; i < 4; i++) assert.ok(driver.transmit(frame, 0, 60, null));
          driver.flush();
          assert.equal(driver.stats.txKicks, 1);
          assert.equal(driver.stats.txKickErrors, 1);
          assert.equal(driver.lastErrno, 100, "ENETDOWN");
          assert.equal(driver.transmit(frame, 0, 60, null), false, "ring full");
          assert.equal(driver.stats.txRingFull, 1);
          assert.equal(driver.stats.txKicks, 2, "one more kick before refusing");
          assert.equal(driver.stats.txDropped, 1);

          const up = await pair.runInStackNs(["ip", "link", "set", pair.stackIf, "up"]);
          assert.equal(up.code, 0, up.stderr);
          await waitFor(async () => {
            const r = await pair.runInStackNs(["cat", `/sys/class/net/${pair.stackIf}/operstate`]);
            return r.stdout.trim() === "up";
          }, { what: "us0 up", intervalMs: 20 });
          assert.equal(driver.txPending, 0, "queued before the refusal, kicked since");
          // The four slots still wait: the next flush kicks again (as every stack tick would,
          // until the kernel takes them; the first may still see the link coming up).
          const kicks = driver.stats.txKicks;
          await waitFor(async () => {
            driver.flush();
            return (await pair.peerCounters()).rxPackets >= before.rxPackets + 4;
          }, { what: "the four frames at the peer", intervalMs: 20 });
          assert.ok(driver.stats.txKicks > kicks);
          const settled = driver.stats.txKicks;
          driver.flush();
          assert.equal(driver.stats.txKicks, settled, "nothing left to kick");
          assert.ok(driver.transmit(frame, 0, 60, null), "slots came back");
          driver.flush();
        } finally {
          driver.close();
        }
      });
    },
  );
}

for (const rxRing of RINGS) {
  interopTest(
    `af_packet_ring: oversize frames and impossible offloads are refused [${rxRing}]`,
    async () => {
      await withVethPair({}, (pair) => {
        const plain = openRing(pair, { rxRing, vnetHdr: false });
        const offload = new TxOffload();
        try {
          const frame = new Uint8Array(1515);
          frame.set(broadcastFrame(plain.mac, 1));
          assert.equal(plain.transmit(frame, 0, 1515, null), false, "above MTU");
          assert.equal(plain.stats.txOversize, 1);
          offload.needsCsum = true;
          offload.csumStart = 34;
          offload.csumOffset = 6;
          assert.equal(plain.transmit(frame, 0, 60, offload), false, "no vnet header, no offload");
          assert.equal(plain.stats.txOffloadRefused, 1);
          assert.equal(plain.transmit(frame, 0, 10, null), false, "shorter than Ethernet");
          assert.equal(plain.stats.txDropped, 3);
          assert.equal(plain.txPending, 0);
        } finally {
          plain.close();
        }
        const vnet = openRing(pair, { rxRing, udpSegmentationOffload: false });
        try {
          assert.equal(vnet.capabilities.udpSegmentationOffload, false);
          const big = new Uint8Array(vnet.maxGsoBytes + 1);
          big.set(broadcastFrame(vnet.mac, 2));
          assert.equal(vnet.transmit(big, 0, 1515, null), false, "no GSO: MTU applies");
          offload.clear();
          offload.needsCsum = true;
          offload.csumStart = 34;
          offload.csumOffset = 16;
          offload.gsoType = GSO_TCPV4;
          offload.gsoSize = 1448;
          offload.hdrLen = 54;
          assert.equal(vnet.transmit(big, 0, big.length, offload), false, "above maxGsoBytes");
          assert.equal(vnet.stats.txOversize, 2);
          offload.gsoType = GSO_UDP_L4;
          offload.csumOffset = 6;
          assert.equal(vnet.transmit(big, 0, 3000, offload), false, "USO turned off");
          assert.equal(vnet.stats.txOffloadRefused, 1);
          assert.equal(vnet.stats.txDropped, 3);
        } finally {
          vnet.close();
        }
      });
    },
  );
}

for (const rxRing of RINGS) {
  interopTest(
    `af_packet_ring: NEEDS_CSUM: the kernel finishes a partial UDP checksum (and a wrong one fails) [${rxRing}]`,
    async () => {
      await withVethPair({}, async (pair) => {
        for (const stackCsumOffload of [false, true]) {
          // Off: the kernel must compute the checksum in software before the wire — the real
          // test. On: veth carries it partial and the peer trusts it.
          setTxChecksum(pair.stackNs, pair.stackIf, stackCsumOffload);
          const driver = openRing(pair, { rxRing });
          const tap = AfPacketDriver.open({ ifname: pair.peerIf, netns: pair.peerNs });
          const receiver = udpReceiver(pair, 9000);
          try {
            await udpPortOpen(pair, 9000);
            const before = await peerUdpMib(pair);
            const payload = pattern(700, stackCsumOffload ? 1 : 2);
            const spec = {
              dstMac: pair.peerMac,
              srcMac: driver.mac,
              src: pair.stackAddr,
              dst: pair.peerAddr,
              proto: PROTO_UDP,
              sport: 40000,
              dport: 9000,
              payload,
              partial: true,
            } as const;
            const offload = new TxOffload();
            offload.needsCsum = true;
            offload.csumStart = ETH + IPV4;
            offload.csumOffset = 6;
            const good = ipv4Frame(spec);
            assert.ok(driver.transmit(good, 0, good.length, offload));
            if (!stackCsumOffload) {
              const bad = ipv4Frame({ ...spec, skew: 1 });
              assert.ok(driver.transmit(bad, 0, bad.length, offload));
            }
            driver.flush();
            const seen = await collect(
              tap,
              (r) => isIpv4To(r.frame, PROTO_UDP, 9000),
              (all) => all.length >= (stackCsumOffload ? 1 : 2),
              "the datagrams at the peer",
            );
            await waitFor(async () => {
              const mib = await peerUdpMib(pair);
              return mib.InDatagrams + mib.InCsumErrors >=
                before.InDatagrams + before.InCsumErrors +
                  seen.length;
            }, { what: "the peer's UDP counters", intervalMs: 20 });
            const after = await peerUdpMib(pair);
            assert.equal(after.InDatagrams - before.InDatagrams, 1);
            assert.deepEqual(await receiver.stop(), payload);
            if (!stackCsumOffload) {
              assert.equal(after.InCsumErrors - before.InCsumErrors, 1, "the skewed one fails");
              assert.equal(l4ChecksumValid(seen[0].frame), true);
              const rows = await tsharkFields([seen[0].frame], ["udp.checksum.status"]);
              assert.deepEqual(rows, [[TSHARK_CHECKSUM_GOOD]]);
            } else {
              assert.equal(seen[0].flags & RX_CSUM_PARTIAL, RX_CSUM_PARTIAL);
            }
          } finally {
            await receiver.stop();
            tap.close();
            driver.close();
          }
        }
      });
    },
    { tools: ["socat", "tshark"] },
  );
}

for (const rxRing of RINGS) {
  interopTest(
    `af_packet_ring: a 20 KB TCP super-segment leaves as MSS-sized segments with good checksums [${rxRing}]`,
    async () => {
      await withVethPair({}, async (pair) => {
        // Without TX checksumming on us0 the device cannot segment: the kernel does it in
        // software, so the peer sees what a NIC would put on the wire. The driver notices and
        // keeps the qdisc (a bypassed qdisc would drop the segmented frame).
        setTxChecksum(pair.stackNs, pair.stackIf, false);
        const driver = openRing(pair, { rxRing });
        const tap = AfPacketDriver.open({ ifname: pair.peerIf, netns: pair.peerNs });
        try {
          assert.equal(driver.qdiscBypass, false);
          assert.equal(driver.capabilities.tcpSegmentationOffload, true);
          const payload = pattern(20_000, 3);
          const isn = 0x01020304;
          const frame = ipv4Frame({
            dstMac: pair.peerMac,
            srcMac: driver.mac,
            src: pair.stackAddr,
            dst: pair.peerAddr,
            proto: PROTO_TCP,
            sport: 40000,
            dport: 5555,
            payload,
            partial: true,
            seq: isn,
          });
          const offload = new TxOffload();
          offload.needsCsum = true;
          offload.csumStart = ETH + IPV4;
          offload.csumOffset = 16;
          offload.gsoType = GSO_TCPV4;
          offload.gsoSize = 1448;
          offload.hdrLen = ETH + IPV4 + TCP;
          assert.ok(driver.transmit(frame, 0, frame.length, offload));
          driver.flush();
          const segments = Math.ceil(20_000 / 1448); // 13 × 1448 + 1176
          const seen = await collect(
            tap,
            (r) => isIpv4To(r.frame, PROTO_TCP, 5555),
            (all) => all.length >= segments,
            `${segments} segments at the peer`,
          );
          assert.equal(seen.length, segments);
          const data = new Uint8Array(20_000);
          let expectSeq = isn;
          for (let i = 0; i < segments; i++) {
            const f = seen[i].frame;
            const len = i < segments - 1 ? 1448 : 20_000 - 1448 * (segments - 1);
            assert.equal(f.length, ETH + IPV4 + TCP + len, `segment ${i}`);
            assert.equal(u32(f, ETH + IPV4 + 4), expectSeq, `segment ${i} seq`);
            data.set(f.subarray(ETH + IPV4 + TCP), expectSeq - isn);
            expectSeq += len;
            assert.equal(l4ChecksumValid(f), true, `segment ${i} TCP checksum`);
            assert.equal(seen[i].flags & RX_GSO, 0);
          }
          assert.deepEqual(data, payload);
          const rows = await tsharkFields(seen.map((s) => s.frame), [
            "tcp.len",
            "ip.checksum.status",
            "tcp.checksum.status",
          ]);
          assert.equal(rows.length, segments);
          for (const [len, ipStatus, tcpStatus] of rows) {
            assert.ok(Number(len) <= 1448);
            assert.equal(ipStatus, TSHARK_CHECKSUM_GOOD);
            assert.equal(tcpStatus, TSHARK_CHECKSUM_GOOD);
          }
        } finally {
          tap.close();
          driver.close();
        }
      });
    },
    { tools: ["tshark"] },
  );
}

for (const rxRing of RINGS) {
  interopTest(
    `af_packet_ring: USO: a UDP super-datagram reaches a kernel socket as gsoSize datagrams [${rxRing}]`,
    async () => {
      await withVethPair({}, async (pair) => {
        for (const stackCsumOffload of [true, false]) {
          setTxChecksum(pair.stackNs, pair.stackIf, stackCsumOffload);
          const driver = openRing(pair, { rxRing });
          const receiver = udpReceiver(pair, 9000);
          try {
            assert.equal(driver.capabilities.udpSegmentationOffload, true);
            await udpPortOpen(pair, 9000);
            const before = await peerUdpMib(pair);
            const payload = pattern(3 * 1000, stackCsumOffload ? 4 : 6);
            const gso = { type: GSO_UDP_L4, size: 1000, datagrams: 3 };
            await sendOffloadedUdp(pair, driver, payload, gso, before);
            assert.deepEqual(await receiver.stop(), payload);
          } finally {
            await receiver.stop();
            driver.close();
          }
        }
      });
    },
    { tools: ["socat"] },
  );
}

for (const rxRing of RINGS) {
  interopTest(
    `af_packet_ring: UFO: an 8,900-byte UDP datagram leaves as IP fragments, reaches a kernel socket whole [${rxRing}]`,
    async () => {
      await withVethPair({}, async (pair) => {
        const driver = openRing(pair, { rxRing });
        const receiver = udpReceiver(pair, 9000, 65536);
        try {
          assert.equal(pair.mtu, 1500);
          assert.equal(driver.capabilities.udpFragmentationOffload, true);
          await udpPortOpen(pair, 9000);
          const before = await peerUdpMib(pair);
          const ipBefore = await peerMib(pair, "Ip");
          const payload = pattern(8900, 5);
          const gso = { type: GSO_UDP, size: 1480, datagrams: 1 };
          await sendOffloadedUdp(pair, driver, payload, gso, before);
          assert.equal(driver.stats.txFrames, 1, "one frame for the whole datagram");
          // It crossed the wire as fragments: the peer put it back together.
          const ip = await peerMib(pair, "Ip");
          assert.equal(ip.ReasmOKs - ipBefore.ReasmOKs, 1);
          assert.ok(ip.ReasmReqds - ipBefore.ReasmReqds >= 7, "7 fragments of at most 1,480 B");
          assert.deepEqual(await receiver.stop(), payload);
        } finally {
          await receiver.stop();
          driver.close();
        }
      });
    },
    { tools: ["socat"] },
  );
}

// --- the stack on top ---------------------------------------------------------------------------

interopTest(
  "af_packet_ring: the stack over the ring answers ping and carries 2 MB of TCP each way",
  async () => {
    await withVethPair({}, async (pair) => {
      for (const [rxRing, vnetHdr] of RINGS.flatMap((r) => [[r, true], [r, false]] as const)) {
        const driver = openRing(pair, { rxRing, vnetHdr });
        const rt = await Runtime.start({ linkDriver: driver, addr: `${pair.stackAddr}/24` });
        try {
          const ping = await pair.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", pair.stackAddr]);
          assert.match(ping.stdout, /3 packets transmitted, 3 received/, ping.stdout);

          // Kernel → stack.
          const total = 2_000_000;
          const got = await uploadFromPeer(pair, rt, 5001, total);
          assert.equal(got, total, `${rxRing}, vnetHdr ${vnetHdr}: bytes from the kernel`);

          // Stack → kernel.
          const sink = pair.spawn(["sh", "-c", "socat -u TCP-LISTEN:5002,reuseaddr - | wc -c"]);
          await waitFor(async () => {
            const r = await pair.run(["cat", "/proc/net/tcp"]);
            return r.stdout.includes(":138A "); // 5002 in hex
          }, { what: "the kernel's listener", intervalMs: 20 });
          const out = await rt.connect({ hostname: pair.peerAddr, port: 5002 });
          const chunk = pattern(50_000, 9);
          for (let sent = 0; sent < total; sent += chunk.length) await out.write(chunk);
          await out.closeWrite();
          const counted = new TextDecoder().decode((await sink.output()).stdout).trim();
          out.close();
          assert.equal(
            counted,
            String(total),
            `${rxRing}, vnetHdr ${vnetHdr}: bytes at the kernel`,
          );
          assert.ok(driver.stats.txKicks < driver.stats.txFrames, "kicks are batched");
          assert.equal(driver.stats.rxDropped, 0, `${rxRing}: ${JSON.stringify(driver.stats)}`);
        } finally {
          await rt.stop();
        }
        assert.equal(driver.fd, -1, "the runtime closed the driver");
      }
    });
  },
  { tools: ["ping", "socat"] },
);

interopTest(
  "af_packet_ring: without CAP_NET_RAW, open fails with EPERM naming the capability",
  async () => {
    const driverUrl = new URL("../../drivers/af_packet_ring.ts", import.meta.url).href;
    const code = `import { AfPacketRingDriver } from ${JSON.stringify(driverUrl)};
    try { AfPacketRingDriver.open({ ifname: "lo" }); console.log("{}"); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const out = await new Deno.Command("setpriv", {
      args: ["--bounding-set", "-net_raw", "--inh-caps", "-net_raw", Deno.execPath(), "eval", code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(result.code, "EPERM");
    assert.match(result.message, /CAP_NET_RAW/);
  },
  { tools: ["setpriv"] },
);
