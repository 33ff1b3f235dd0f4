/**
 * Transmit cost of the AF_PACKET drivers, in one run on one veth pair: the `sendmmsg` driver
 * against the ring driver with TPACKET_V2 and V3 rings (with and without the vnet header).
 * Each iteration queues 64 frames and flushes once, as one stack tick would; frames per second
 * = 64 / time per iteration. The peer is the kernel in another namespace, which drops the frames at its
 * EtherType demux.
 *
 * Needs root (namespaces, CAP_NET_RAW); without it every case is ignored. The namespaces are
 * deleted when the bench process ends.
 *
 * @module
 */

import { AfPacketDriver } from "../drivers/af_packet.ts";
import { AfPacketRingDriver } from "../drivers/af_packet_ring.ts";
import type { LinkDriver } from "../link/driver.ts";
import { missingRequirements } from "../tests/harness/interop.ts";
import { createVethPair, type VethPair } from "../tests/harness/netns.ts";

/** Frames per iteration (one flush each). */
const BATCH = 64;
/** An IEEE 802 local experimental EtherType: nothing in the kernel reacts to it. */
const ETHERTYPE_EXPERIMENTAL = 0x88b5;

const ready = missingRequirements().length === 0;

/** One veth pair per MTU, made once. */
const pairs = new Map<number, VethPair>();
/** Drivers by case name, opened once and closed at unload. */
const drivers: LinkDriver[] = [];

async function pairFor(mtu: number): Promise<VethPair> {
  let pair = pairs.get(mtu);
  if (pair === undefined) {
    pair = await createVethPair({ mtu, ipv6: false });
    pairs.set(mtu, pair);
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

/** Register one transmit case: `open` the driver on the pair of `mtu`, send full-MTU frames. */
function txBench(
  name: string,
  mtu: number,
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
        const pair = await pairFor(mtu);
        driver = open(pair);
        drivers.push(driver);
        // The frame sits at an offset in a larger buffer, as a stack's packet buffer does.
        frame = new Uint8Array(len + 64);
        frame.fill(0xff, 32, 38);
        frame.set(driver.mac, 38);
        frame[44] = ETHERTYPE_EXPERIMENTAL >> 8;
        frame[45] = ETHERTYPE_EXPERIMENTAL & 0xff;
      }
      const d = driver;
      b.start();
      for (let i = 0; i < BATCH; i++) d.transmit(frame, 32, len, null);
      d.flush();
      b.end();
    },
  });
}

for (const mtu of [1500, 9000]) {
  txBench(
    `af_packet (sendmmsg), MTU ${mtu}`,
    mtu,
    (p) => AfPacketDriver.open({ ifname: p.stackIf, netns: p.stackNs }),
    true,
  );
  for (const rxRing of ["v2", "v3"] as const) {
    const version = rxRing === "v2" ? "TPACKET_V2" : "TPACKET_V3";
    txBench(
      `af_packet_ring (${version}, vnet header), MTU ${mtu}`,
      mtu,
      (p) => AfPacketRingDriver.open({ ifname: p.stackIf, netns: p.stackNs, rxRing }),
    );
    txBench(
      `af_packet_ring (${version}, no vnet header), MTU ${mtu}`,
      mtu,
      (p) =>
        AfPacketRingDriver.open({ ifname: p.stackIf, netns: p.stackNs, vnetHdr: false, rxRing }),
    );
  }
}
