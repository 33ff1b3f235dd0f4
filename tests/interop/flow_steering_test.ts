// The flow-steering program (drivers/flow_steering.ts) run by the kernel itself: attached as a
// socket filter, whose return value is the number of bytes kept, a frame arrives cut to the
// "slot" the program picked. Kernel-sent TCP SYNs and UDP datagrams over IPv4 and IPv6 must
// land on flowWorker(srcPort, dstPort, n) — the function the stacks use to pick the ports of
// their own connections — and ICMP, fragments and IPv6 with an extension header on "other".

import assert from "node:assert/strict";
import { AfPacketDriver } from "../../drivers/af_packet.ts";
import { flowWorker, steeringProgram } from "../../drivers/flow_steering.ts";
import { setClassicProgram, SO_ATTACH_FILTER } from "../../ffi/classic_bpf.ts";
import { SOL_SOCKET } from "../../ffi/constants.ts";
import { withNetns } from "../../ffi/netns.ts";
import { RxBatch } from "../../link/driver.ts";
import { interopTest } from "../harness/interop.ts";
import { formatMac, withVethPair } from "../harness/netns.ts";

const WORKERS = 3;
/**
 * Bytes kept for worker i: SLOT_BASE + i (room for the ports of IPv6, shorter than the
 * shortest frame sent: an IPv4 SYN of 74 bytes); for everything else OTHER (below any IP
 * frame here).
 */
const SLOT_BASE = 60;
const OTHER = 40;

interopTest("flow steering: the kernel runs the program as flowWorker says", async () => {
  await withVethPair({}, async (pair) => {
    const driver = withNetns(pair.stackNs, () => AfPacketDriver.open({ ifname: pair.stackIf }));
    try {
      const slots = Array.from({ length: WORKERS }, (_, i) => SLOT_BASE + i);
      setClassicProgram(driver.fd, SOL_SOCKET, SO_ATTACH_FILTER, steeringProgram(slots, OTHER));
      const mac = formatMac(pair.stackMac);
      for (const addr of [pair.stackAddr, pair.stackAddr6]) {
        const r = await pair.run(
          ["ip", "neigh", "replace", addr, "lladdr", mac, "dev", pair.peerIf, "nud", "permanent"],
        );
        assert.equal(r.code, 0, r.stderr);
      }
      // Port pairs: ephemeral-looking source ports (even and odd) to a few services.
      const pairs: [number, number][] = [];
      for (let i = 0; i < 40; i++) pairs.push([40000 + i * 37, [80, 443, 8080, 7][i % 4]]);
      const script = [
        "import socket",
        `pairs = ${JSON.stringify(pairs)}`,
        "keep = []",
        "for fam, src, dst in ((socket.AF_INET, '" + pair.peerAddr + "', '" + pair.stackAddr +
        "'), (socket.AF_INET6, '" + pair.peerAddr6 + "', '" + pair.stackAddr6 + "')):",
        "    for sp, dp in pairs:",
        "        u = socket.socket(fam, socket.SOCK_DGRAM); u.bind((src, sp)); u.sendto(b'x' * 200, (dst, dp)); u.close()",
        "        t = socket.socket(fam, socket.SOCK_STREAM); t.setblocking(False); t.bind((src, sp + 1))",
        "        t.connect_ex((dst, dp)); keep.append(t)",
        // A fragmented datagram (IPv4: MF/offset; IPv6: a fragment header) goes to "other".
        "    u = socket.socket(fam, socket.SOCK_DGRAM); u.bind((src, 39999)); u.sendto(b'y' * 3000, (dst, 80)); u.close()",
        "import time; time.sleep(0.5)",
      ].join("\n");
      const sent = pair.run(["/usr/bin/python3", "-c", script]);
      const ping = pair.run(["ping", "-c", "1", "-W", "1", "-s", "100", pair.stackAddr]);
      const seen = new Map<string, number>();
      let other = 0;
      let wrong = 0;
      const batch = new RxBatch(64);
      const deadline = performance.now() + 5_000;
      const want = pairs.length * 2 * 2;
      while (performance.now() < deadline && (seen.size < want || other < 3)) {
        const n = driver.receive(batch, batch.capacity);
        for (let i = 0; i < n; i++) {
          const f = batch.buf[i].subarray(batch.off[i], batch.off[i] + batch.len[i]);
          if (f.length === OTHER) {
            other++;
            continue;
          }
          const type = (f[12] << 8) | f[13];
          let l4: number;
          let proto: number;
          if (type === 0x0800) {
            proto = f[23];
            l4 = 14 + (f[14] & 0xf) * 4;
          } else if (type === 0x86dd) {
            proto = f[20];
            l4 = 54;
          } else continue;
          if (proto !== 6 && proto !== 17) continue;
          const sp = (f[l4] << 8) | f[l4 + 1];
          const dp = (f[l4 + 2] << 8) | f[l4 + 3];
          if (f.length !== SLOT_BASE + flowWorker(sp, dp, WORKERS)) wrong++;
          seen.set(`${type}/${proto}/${sp}/${dp}`, f.length - SLOT_BASE);
        }
        driver.release(batch);
        if (n === 0) await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal((await sent).code, 0, "python sender");
      await ping;
      assert.equal(wrong, 0, `frames on a slot flowWorker did not name: ${wrong}`);
      assert.equal(seen.size, want, `distinct flows seen: ${seen.size} of ${want}`);
      // ICMP echo (IPv4), the fragments of both families (IPv6's carry a fragment header), and
      // the kernel's own ICMPv6/NDP all take the "other" slot.
      assert.ok(other >= 3, `frames on "other": ${other}`);
      const perWorker = new Array(WORKERS).fill(0);
      for (const w of seen.values()) perWorker[w]++;
      assert.ok(perWorker.every((c) => c > 0), `every worker gets flows: ${perWorker}`);
    } finally {
      driver.close();
    }
  });
}, { tools: ["ping"] });
