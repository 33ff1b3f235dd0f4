/**
 * Per-frame cost of the kernel drivers, in one run:
 *
 * - **tx**: each iteration queues 64 frames and flushes once, as one stack tick would; frames
 *   per second = 64 / time per iteration. `af_packet_mmsg` (sendmmsg) against `af_packet` (the
 *   ring driver) with TPACKET_V2 and V3 rings (with and without the vnet header), `af_xdp` (one
 *   chunk per frame at MTU 1500, multi-buffer at 9000) and `tap`. Cases are named by the
 *   `--driver` name. The peer is the kernel, which drops the frames at its EtherType demux.
 * - **rx**: each iteration a kernel-side `sendmmsg` driver in the peer namespace sends 64
 *   frames and the driver under test receives and releases them all (the sender's cost is in
 *   every row alike; differences between rows are the receivers').
 *
 * Needs root (namespaces, CAP_NET_RAW, CAP_BPF); without it every case is ignored. The
 * namespaces are deleted when the bench process ends.
 *
 * @module
 */

import { AfPacketDriver } from "../drivers/af_packet.ts";
import { AfPacketRingDriver } from "../drivers/af_packet_ring.ts";
import { AfXdpDriver } from "../drivers/af_xdp.ts";
import { TapDriver } from "../drivers/tap.ts";
import { type LinkDriver, RxBatch } from "../link/driver.ts";
import { missingRequirements } from "../tests/harness/interop.ts";
import { createVethPair, type VethPair } from "../tests/harness/netns.ts";

/** Frames per iteration (one flush each). */
const BATCH = 64;
/** An IEEE 802 local experimental EtherType: nothing in the kernel reacts to it. */
const ETHERTYPE_EXPERIMENTAL = 0x88b5;
/** Most `receive` calls one rx iteration makes before giving up on missing frames. */
const RX_TRIES = 10_000;

const ready = missingRequirements().length === 0;

/** Veth pairs by key (one per MTU for the shared tx cases, one per case otherwise). */
const pairs = new Map<string, VethPair>();
/** Drivers opened once and closed at unload. */
const drivers: LinkDriver[] = [];

async function pairFor(key: string, mtu: number): Promise<VethPair> {
  let pair = pairs.get(key);
  if (pair === undefined) {
    pair = await createVethPair({ mtu, ipv6: false });
    pairs.set(key, pair);
  }
  return pair;
}

globalThis.addEventListener("unload", () => {
  for (const d of drivers) {
    try {
      d.close();
    } catch { /* already closed */ }
  }
});

/** A frame of `len` bytes at offset 32 of a larger buffer, as a stack's packet buffer holds it. */
function testFrame(len: number, src: Uint8Array): Uint8Array {
  const frame = new Uint8Array(len + 64);
  frame.fill(0xff, 32, 38);
  frame.set(src, 38);
  frame[44] = ETHERTYPE_EXPERIMENTAL >> 8;
  frame[45] = ETHERTYPE_EXPERIMENTAL & 0xff;
  return frame;
}

/**
 * Register one transmit case: `open` the driver on the pair `pairKey` (made with `mtu`), send
 * full-MTU frames.
 */
function txBench(
  name: string,
  mtu: number,
  pairKey: string,
  open: (pair: VethPair) => LinkDriver,
  baseline = false,
): void {
  let driver: LinkDriver | null = null;
  let frame: Uint8Array;
  const len = mtu + 14;
  Deno.bench({
    name,
    group: `tx ${BATCH} × ${len} B`,
    baseline,
    ignore: !ready,
    async fn(b) {
      if (driver === null) {
        const pair = await pairFor(pairKey, mtu);
        driver = open(pair);
        drivers.push(driver);
        frame = testFrame(len, driver.mac);
      }
      const d = driver;
      b.start();
      for (let i = 0; i < BATCH; i++) d.transmit(frame, 32, len, null);
      d.flush();
      b.end();
    },
  });
}

/**
 * Register one receive case on a pair of its own: a `sendmmsg` driver on the peer end sends 64
 * frames of `len` bytes, `open`'s driver receives them.
 */
function rxBench(
  name: string,
  len: number,
  open: (pair: VethPair) => LinkDriver,
  baseline = false,
): void {
  let driver: LinkDriver | null = null;
  let sender: LinkDriver | null = null;
  let frame: Uint8Array;
  const batch = new RxBatch(BATCH);
  Deno.bench({
    name,
    group: `rx ${BATCH} × ${len} B`,
    baseline,
    ignore: !ready,
    async fn(b) {
      if (driver === null || sender === null) {
        const pair = await pairFor(`rx ${name}`, 1500);
        driver = open(pair);
        drivers.push(driver);
        sender = AfPacketDriver.open({ ifname: pair.peerIf, netns: pair.peerNs });
        drivers.push(sender);
        frame = testFrame(len, sender.mac);
        frame.set(driver.mac, 32);
      }
      const d = driver;
      const s = sender;
      b.start();
      for (let i = 0; i < BATCH; i++) s.transmit(frame, 32, len, null);
      s.flush();
      let got = 0;
      for (let tries = 0; got < BATCH && tries < RX_TRIES; tries++) {
        got += d.receive(batch, BATCH);
        d.release(batch);
      }
      b.end();
    },
  });
}

for (const mtu of [1500, 9000]) {
  const shared = `tx ${mtu}`;
  txBench(
    `af_packet_mmsg (sendmmsg), MTU ${mtu}`,
    mtu,
    shared,
    (p) => AfPacketDriver.open({ ifname: p.stackIf, netns: p.stackNs }),
    true,
  );
  for (const rxRing of ["v2", "v3"] as const) {
    const version = rxRing === "v2" ? "TPACKET_V2" : "TPACKET_V3";
    txBench(
      `af_packet (${version} rings, vnet header), MTU ${mtu}`,
      mtu,
      shared,
      (p) => AfPacketRingDriver.open({ ifname: p.stackIf, netns: p.stackNs, rxRing }),
    );
    txBench(
      `af_packet (${version} rings, no vnet header), MTU ${mtu}`,
      mtu,
      shared,
      (p) =>
        AfPacketRingDriver.open({ ifname: p.stackIf, netns: p.stackNs, vnetHdr: false, rxRing }),
    );
  }
  txBench(
    `af_xdp (copy mode), MTU ${mtu}`,
    mtu,
    `af_xdp ${mtu}`,
    (p) => AfXdpDriver.open({ ifname: p.stackIf, netns: p.stackNs }),
  );
  txBench(
    `tap, MTU ${mtu}`,
    mtu,
    `tap ${mtu}`,
    (p) => TapDriver.open({ name: "usbench0", netns: p.stackNs, mtu }),
  );
}

for (const len of [60, 1514]) {
  rxBench(
    `af_packet_mmsg (recvmmsg), ${len} B`,
    len,
    (p) => AfPacketDriver.open({ ifname: p.stackIf, netns: p.stackNs }),
    true,
  );
  rxBench(
    `af_packet (TPACKET_V2 rings, vnet header), ${len} B`,
    len,
    (p) => AfPacketRingDriver.open({ ifname: p.stackIf, netns: p.stackNs }),
  );
  rxBench(
    `af_xdp (copy mode), ${len} B`,
    len,
    (p) => AfXdpDriver.open({ ifname: p.stackIf, netns: p.stackNs }),
  );
}
