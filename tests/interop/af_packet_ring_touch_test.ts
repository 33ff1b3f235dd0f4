import assert from "node:assert/strict";
import { AfPacketRingDriver } from "../../drivers/af_packet_ring.ts";
import { interopTest } from "../harness/interop.ts";
import { withVethPair } from "../harness/netns.ts";

/** A mapping of a socket: its address range, size and dirty kB. */
interface Mapping {
  range: string;
  sizeKb: number;
  dirtyKb: number;
}

/** kB of dirty pages (shared and private) of each packet-socket mapping of this process. */
function socketMappingsDirtyKb(): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | null = null;
  for (const line of Deno.readTextFileSync("/proc/self/smaps").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      const range = line.slice(0, line.indexOf(" "));
      cur = line.includes("socket:[") ? { range, sizeKb: 0, dirtyKb: 0 } : null;
      if (cur !== null) out.push(cur);
      continue;
    }
    if (cur === null) continue;
    const m = /^(Size|Shared_Dirty|Private_Dirty):\s+(\d+) kB/.exec(line);
    if (m === null) continue;
    if (m[1] === "Size") cur.sizeKb = Number(m[2]);
    else cur.dirtyKb += Number(m[2]);
  }
  return out;
}

interopTest(
  "af_packet_ring: every page holding a status word or the TX ring is written once at open",
  async () => {
    await withVethPair({}, (pair) => {
      for (const rxRing of ["v2", "v3"] as const) {
        const before = new Set(socketMappingsDirtyKb().map((m) => m.range));
        const driver = AfPacketRingDriver.open({
          ifname: pair.stackIf,
          netns: pair.stackNs,
          txKick: "sync",
          rxRing,
        });
        try {
          const maps = socketMappingsDirtyKb().filter((m) => !before.has(m.range));
          // The ring (RX then TX), and with the split receive the large slots' ring.
          assert.equal(maps.length, driver.rxSplit ? 2 : 1, rxRing);
          const dirtyKb = maps.reduce((s, m) => s + m.dirtyKb, 0);
          if (rxRing === "v2") {
            // The RX ring of MTU-sized slots has a status word on every page, then the TX
            // ring: the whole mapping. A clean page would pay its first write on the first lap.
            const ring = maps.find((m) => m.sizeKb * 1024 === driver.ringBytes)!;
            assert.equal(ring.dirtyKb, ring.sizeKb, `${ring.dirtyKb} of ${ring.sizeKb} kB dirty`);
          }
          // Nothing else was written: the large slots' data pages and V3's frames stay clean.
          assert.equal(dirtyKb, driver.ringPagesTouched * 4, rxRing);
        } finally {
          driver.close();
        }
      }
    });
  },
);
