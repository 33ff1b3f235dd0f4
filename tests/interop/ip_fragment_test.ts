// Kernel interop for IPv4 reassembly under attack: lone first fragments (datagrams that never
// complete) injected on the wire must not keep `ustack serve --udp-echo` from answering the
// kernel's fragmented datagrams.

import assert from "node:assert/strict";
import { AfPacketDriver } from "../../drivers/af_packet.ts";
import { withNetns } from "../../ffi/netns.ts";
import { interopTest } from "../harness/interop.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";
import { startServe } from "../harness/ustack_cli.ts";

/**
 * Ethernet + the first fragment (MF set, offset 0, 1480 bytes of payload) of a UDP datagram
 * of `claimed` bytes from the peer to the stack's port 7, whose other fragments never come.
 */
function loneFirstFragment(pair: VethPair, id: number, claimed: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 1480);
  f.set(pair.stackMac, 0);
  f.set(pair.peerMac, 6);
  f[12] = 0x08;
  const total = 20 + 1480;
  f.set([0x45, 0, total >> 8, total & 0xff, id >> 8, id & 0xff, 0x20, 0, 64, 17, 0, 0], 14);
  f.set([198, 18, 0, 1, 198, 18, 0, 2], 26);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (f[14 + i] << 8) | f[15 + i];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  f[24] = c >> 8;
  f[25] = c & 0xff;
  const udpLen = 8 + claimed;
  f.set([0x9c, 0x40, 0, 7, udpLen >> 8, udpLen & 0xff, 0x12, 0x34], 34);
  for (let i = 42; i < f.length; i++) f[i] = i & 0xff;
  return f;
}

/** A kernel UDP socket sends `len` random bytes to port 7 and waits ≤ 1 s for the echo. */
const ROUND_TRIP = `
import os, socket, sys, time
data = os.urandom(int(sys.argv[2]))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
t0 = time.monotonic()
s.sendto(data, (sys.argv[1], 7))
try:
    back = s.recv(65535)
except socket.timeout:
    print("timeout")
    sys.exit(1)
ms = (time.monotonic() - t0) * 1000
print("echoed %d bytes in %.1f ms" % (len(back), ms) if back == data else "corrupt echo")
sys.exit(0 if back == data else 1)
`;

interopTest(
  "64 lone first fragments, then a 3,000-byte kernel datagram is echoed at once",
  async () => {
    await withVethPair({}, async (pair) => {
      const serve = await startServe(pair, ["--udp-echo", "7", "--json"]);
      const inject = withNetns(pair.peerNs, () => AfPacketDriver.open({ ifname: pair.peerIf }));
      try {
        // The kernel resolves the stack's MAC first, so nothing but the fragments is pending.
        const warm = await pair.run(["python3", "-c", ROUND_TRIP, pair.stackAddr, "10"]);
        assert.equal(warm.code, 0, warm.stdout + warm.stderr);
        for (let id = 0; id < 64; id++) {
          const f = loneFirstFragment(pair, 0x5000 + id, 3000);
          assert.ok(inject.transmit(f, 0, f.length, null));
          inject.flush();
        }
        // 3,000 bytes at MTU 1500: the kernel sends three fragments, the echo comes back in
        // three; it must be answered at once, not after the lone fragments time out (30 s).
        const r = await pair.run(["python3", "-c", ROUND_TRIP, pair.stackAddr, "3000"]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /^echoed 3000 bytes in /);
      } finally {
        inject.close();
        assert.equal(await serve.stop(), 0);
      }
      const stats = serve.statsEvent()!;
      assert.equal(stats.ip.ReasmReqds, 64 + 3);
      assert.equal(stats.ip.ReasmOKs, 1);
      assert.equal(stats.ip.ReasmEvictions, 0, "64 lone fragments fit in the memory bound");
      assert.equal(stats.udp.InDatagrams, 2);
    });
  },
  { tools: ["python3"] },
);
