/**
 * The af_packet driver's default tcx program for IPv6, and for addresses that come after
 * `Runtime.start`: the host kernel of the stack's namespace gets none of the unicast frames to
 * the stack's IPv6 addresses (static, SLAAC, added later) nor to IPv4 addresses added later,
 * and still every frame to its own addresses and their NDP, and again those to an address the
 * stack removed.
 *
 * The kernel's IPv6 is turned on on the stack's interface here (the harness turns it off),
 * with router advertisements ignored: its unicast receive count (`Ip6InReceives` less
 * `Ip6InMcastPkts`, `/proc/net/snmp6`) then counts exactly the unicast frames that reached it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { AfPacketRingDriver } from "../../drivers/af_packet_ring.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { Runtime } from "../../stack/runtime.ts";
import { interopTest } from "../harness/interop.ts";
import { spawnCli } from "../harness/ustack_cli.ts";
import { uploadFromPeer } from "../harness/peer_upload.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";

/** A counter of the kernel in the stack's namespace: `file` is `snmp` or `snmp6`. */
async function kernelCounter(pair: VethPair, file: "snmp" | "snmp6", name: string) {
  const r = await pair.runInStackNs(["cat", `/proc/net/${file}`]);
  if (file === "snmp6") return snmp6Field(r.stdout, name);
  const lines = r.stdout.split("\n").filter((l) => l.startsWith(name.split(":")[0] + ":"));
  const names = lines[0].trim().split(/\s+/);
  const values = lines[1].trim().split(/\s+/);
  return Number(values[names.indexOf(name.split(":")[1])]);
}

/** One field of a `/proc/net/snmp6` text. */
function snmp6Field(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.split(/\s+/)[0] === name);
  return Number(line!.trim().split(/\s+/)[1]);
}

/**
 * Unicast IPv6 packets the kernel of the stack's namespace received. Both counters come from
 * one read of `/proc/net/snmp6`: read apart, a multicast packet (an MLD report, a neighbour
 * solicitation) arriving between the two reads would count as one unicast packet less.
 */
async function kernelIp6Unicast(pair: VethPair): Promise<number> {
  const text = (await pair.runInStackNs(["cat", "/proc/net/snmp6"])).stdout;
  return snmp6Field(text, "Ip6InReceives") - snmp6Field(text, "Ip6InMcastPkts");
}

/** IPv4 packets the kernel of the stack's namespace received. */
function kernelIpInReceives(pair: VethPair): Promise<number> {
  return kernelCounter(pair, "snmp", "Ip:InReceives");
}

/** IPv4 and IPv6 unicast packets the kernel of the stack's namespace received during `run`. */
async function kernelSeenDuring(
  pair: VethPair,
  run: () => Promise<unknown>,
): Promise<{ seen4: number; seen6: number }> {
  const before4 = await kernelIpInReceives(pair);
  const before6 = await kernelIp6Unicast(pair);
  await run();
  return {
    seen4: (await kernelIpInReceives(pair)) - before4,
    seen6: (await kernelIp6Unicast(pair)) - before6,
  };
}

/**
 * Turn the kernel's IPv6 on on the stack's interface (it gets its link-local address, the
 * stack's too: the same MAC), ignoring router advertisements (no SLAAC address, no router
 * solicitation of its own).
 */
async function kernelIpv6On(pair: VethPair): Promise<void> {
  const conf = `/proc/sys/net/ipv6/conf/${pair.stackIf}`;
  const r = await pair.runInStackNs([
    "sh",
    "-c",
    `echo 0 > ${conf}/accept_ra && echo 0 > ${conf}/autoconf && ` +
    `echo 0 > ${conf}/router_solicitations && echo 0 > ${conf}/disable_ipv6`,
  ]);
  assert.equal(r.code, 0, r.stderr);
}

/** Ping `addr` from the peer until it answers (a stack's IPv6 address is tentative at first). */
async function waitReachable(pair: VethPair, addr: string): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const r = await pair.run(["ping", "-6", "-c", "1", "-W", "1", addr]);
    if (r.code === 0) return;
  }
  assert.fail(`${addr} did not answer`);
}

/** `ping` (`-6` for an IPv6 address) from the peer: asserts `n` replies. */
async function ping(pair: VethPair, addr: string, n: number): Promise<void> {
  const r = await pair.run([
    "ping",
    ...(addr.includes(":") ? ["-6"] : []),
    "-c",
    String(n),
    "-i",
    "0.2",
    "-W",
    "2",
    addr,
  ]);
  assert.match(r.stdout, new RegExp(`${n} packets transmitted, ${n} received`), r.stdout);
}

/** The program's IPv6 addresses as text. */
function programV6(rt: Runtime): string[] {
  const f = (rt.nic.driver as AfPacketRingDriver).kernelRxFilter;
  assert.ok(f !== null, "the driver keeps an address program");
  return f.v6.map((w) => `${new IpAddress(w[0], w[1], w[2], w[3])}`);
}

interopTest(
  "kernel_rx_drop6: by default the kernel gets none of the unicast frames to the stack's IPv6 " +
    "addresses, and still those to its own address (NDP included)",
  async () => {
    await withVethPair({}, async (pair) => {
      await kernelIpv6On(pair);
      const own6 = "fd00::200";
      await pair.runInStackNs(["ip", "-6", "addr", "add", `${own6}/64`, "dev", pair.stackIf]);
      // `kernelRx: true` first: the same traffic reaches the kernel without the program.
      for (const kernelRx of [true, undefined]) {
        const rt = await Runtime.start({
          driver: "af_packet",
          if: pair.stackIf,
          netns: pair.stackNs,
          addr: [`${pair.stackAddr}/24`, `${pair.stackAddr6}/64`],
          kernelRx,
        });
        try {
          await rt.addressesReady();
          await ping(pair, pair.stackAddr6, 1); // the peer's neighbour entry, before counting
          const before = await kernelIp6Unicast(pair);
          await ping(pair, pair.stackAddr6, 3);
          assert.equal(
            await uploadFromPeer(pair, rt, 5002, 200_000, pair.stackAddr6),
            200_000,
            "bytes",
          );
          const seen = (await kernelIp6Unicast(pair)) - before;
          if (kernelRx) {
            assert.ok(seen >= 6, `without the program the kernel saw them: ${seen}`);
            assert.equal((rt.nic.driver as AfPacketRingDriver).kernelRxFilter ?? null, null);
          } else {
            assert.equal(seen, 0, "the kernel saw none of the stack's unicast IPv6 frames");
            assert.equal((rt.nic.driver as AfPacketRingDriver).kernelRxDrop, "own");
            // fd00::2 only: the stack's link-local address is the kernel's too (the same MAC,
            // and the kernel has it), and so is left to the kernel.
            assert.deepEqual(programV6(rt), ["fd00::2"]);
          }
          // The kernel's own address, its neighbour solicitation (multicast) included.
          await pair.run(["ip", "-6", "neigh", "flush", "dev", pair.peerIf]);
          const mine = await kernelCounter(pair, "snmp6", "Icmp6InEchos");
          await ping(pair, own6, 2);
          const echos = (await kernelCounter(pair, "snmp6", "Icmp6InEchos")) - mine;
          assert.ok(echos >= 2, `the kernel got its own: ${echos} echo requests`);
        } finally {
          await rt.stop();
        }
      }
    });
  },
  { tools: ["ping", "socat"] },
);

interopTest(
  "kernel_rx_drop6: addresses that come after start (SLAAC, addAddress of either family) join " +
    "the program",
  async () => {
    await withVethPair({}, async (pair) => {
      await kernelIpv6On(pair);
      const dir = await Deno.makeTempDir();
      const conf = `${dir}/radvd.conf`;
      await Deno.writeTextFile(
        conf,
        `interface ${pair.peerIf} { AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 6;
  prefix fd00:6::/64 { AdvOnLink on; AdvAutonomous on; }; };\n`,
      );
      await pair.run(["sysctl", "-w", "net.ipv6.conf.all.forwarding=1"]);
      await pair.run(["ip", "addr", "add", "fd00:6::1/64", "dev", pair.peerIf, "nodad"]);
      const radvd = pair.spawn(["radvd", "-n", "-C", conf, "-p", `${dir}/pid`, "-m", "stderr"], {
        stdout: "null",
        stderr: "null",
      });
      try {
        await pair.peerLinkLocal(); // radvd advertises from it
        const rt = await Runtime.start({
          driver: "af_packet",
          if: pair.stackIf,
          netns: pair.stackNs,
          addr: `${pair.stackAddr}/24`,
          slaac: true,
        });
        try {
          const slaac = await new Promise<string>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("no SLAAC address in 15 s")), 15_000);
            rt.onAddressChange((addr, origin, state) => {
              if (origin === "slaac" && state === "preferred") {
                clearTimeout(timer);
                resolve(addr.slice(0, addr.indexOf("/")));
              }
            });
          });
          const v4 = "198.18.0.3";
          const v6 = "fd00::3";
          rt.stack.ipv4.addAddress(rt.nic.index, 0xc6120003, 24);
          rt.stack.ipv6.addAddress(rt.nic.index, IpAddress.parse(v6), 64);
          await rt.addressesReady();
          for (const a of [v4, v6, slaac]) await ping(pair, a, 1); // neighbour entries
          const seen = await kernelSeenDuring(pair, async () => {
            for (const a of [v4, v6, slaac]) await ping(pair, a, 3);
          });
          assert.deepEqual(seen, { seen4: 0, seen6: 0 }, "frames the kernel saw");
          const f = (rt.nic.driver as AfPacketRingDriver).kernelRxFilter!;
          assert.deepEqual([...f.v4].sort(), [0xc6120002, 0xc6120003]);
          assert.deepEqual(programV6(rt).sort(), [v6, slaac].sort());
          assert.equal(f.leftOut, 0);
          assert.equal(f.failures, 0);
        } finally {
          await rt.stop();
        }
      } finally {
        try {
          radvd.kill("SIGTERM");
        } catch { /* already gone */ }
        await radvd.status;
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    });
  },
  { tools: ["ping", "radvd"] },
);

interopTest(
  "kernel_rx_drop6: an address removed (removeAddress of either family) leaves the program: " +
    "its frames reach the kernel again, the remaining addresses stay",
  async () => {
    await withVethPair({}, async (pair) => {
      await kernelIpv6On(pair);
      const rt = await Runtime.start({
        driver: "af_packet",
        if: pair.stackIf,
        netns: pair.stackNs,
        addr: [`${pair.stackAddr}/24`, `${pair.stackAddr6}/64`],
      });
      try {
        const v4 = "198.18.0.3";
        const v6 = "fd00::3";
        rt.stack.ipv4.addAddress(rt.nic.index, 0xc6120003, 24);
        rt.stack.ipv6.addAddress(rt.nic.index, IpAddress.parse(v6), 64);
        await rt.addressesReady();
        // Every address answers once: the peer's neighbour entries name the stack's MAC, and
        // keep naming it for a while after the removal (the peer resolves nothing again).
        for (const a of [pair.stackAddr, pair.stackAddr6, v4, v6]) await ping(pair, a, 1);
        const f = () => (rt.nic.driver as AfPacketRingDriver).kernelRxFilter!;
        assert.deepEqual([...f().v4].sort(), [0xc6120002, 0xc6120003]);
        assert.deepEqual(programV6(rt).sort(), [pair.stackAddr6, v6].sort());
        const loads = f().loads;
        rt.stack.ipv4.removeAddress(rt.nic.index, 0xc6120003);
        rt.stack.ipv6.removeAddress(rt.nic.index, IpAddress.parse(v6));
        await new Promise((r) => setTimeout(r, 50)); // the follower's microtask, one load
        assert.deepEqual([...f().v4], [0xc6120002], "the remaining IPv4 address stays");
        assert.deepEqual(programV6(rt), [pair.stackAddr6], "the remaining IPv6 address stays");
        assert.equal(f().loads, loads + 1, "one load for the burst of two removals");
        assert.equal(f().failures, 0);
        // The removed addresses' frames reach the kernel again (nobody answers them now)...
        const removed = await kernelSeenDuring(pair, async () => {
          for (const a of [v4, v6]) {
            const family = a.includes(":") ? ["-6"] : [];
            await pair.run(["ping", ...family, "-c", "3", "-i", "0.2", "-W", "1", a]);
          }
        });
        assert.ok(
          removed.seen4 >= 3 && removed.seen6 >= 3,
          `the kernel got the removed addresses' frames: ${JSON.stringify(removed)}`,
        );
        // ... and those of the remaining ones still do not.
        const kept = await kernelSeenDuring(pair, async () => {
          for (const a of [pair.stackAddr, pair.stackAddr6]) await ping(pair, a, 3);
        });
        assert.deepEqual(kept, { seen4: 0, seen6: 0 }, "frames to the remaining addresses");
      } finally {
        await rt.stop();
      }
    });
  },
  { tools: ["ping"] },
);

interopTest(
  "kernel_rx_drop6: uperf server --udp (the CLI's own permissions) keeps the kernel off its " +
    "IPv6 datagrams",
  async () => {
    await withVethPair({}, async (pair) => {
      await kernelIpv6On(pair);
      const server = spawnCli(pair, [
        "uperf",
        "server",
        "--udp",
        "-p",
        "6003",
        "-t",
        "3",
        "--json",
        "--driver",
        "af_packet",
        "--if",
        pair.stackIf,
        "--addr",
        `${pair.stackAddr}/24`,
        "--addr",
        `${pair.stackAddr6}/64`,
      ]);
      await server.waitForLine(/"event":"ready"/);
      await waitReachable(pair, pair.stackAddr6);
      const before = await kernelIp6Unicast(pair);
      const r = await pair.run([
        "sh",
        "-c",
        `head -c 100000 /dev/zero | socat -u -b 1000 - UDP6:[${pair.stackAddr6}]:6003`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await server.exited(), 0, server.errors.join("\n"));
      const s = JSON.parse(server.lines.at(-1)!);
      assert.equal(s.event, "summary");
      assert.ok(s.packets > 0, JSON.stringify(s));
      assert.equal(s.kernelRxDrop, "own");
      assert.equal((await kernelIp6Unicast(pair)) - before, 0, "the kernel saw the datagrams");
    });
  },
  { tools: ["ping", "socat"] },
);

interopTest(
  "kernel_rx_drop6: setKernelRxDropTo loads a program only for a new set, counts what does not " +
    "fit, and detaches on an empty one",
  async () => {
    await withVethPair({}, (pair) => {
      const d = AfPacketRingDriver.open({
        ifname: pair.stackIf,
        netns: pair.stackNs,
        kernelRxDropTo: [],
      });
      try {
        assert.equal(d.kernelRxDrop, "none");
        assert.deepEqual(d.kernelRxFilter, {
          loads: 0,
          failures: 0,
          leftOut: 0,
          v4: [],
          v6: [],
          kernelWatch: false, // subscribed with the first address
          kernelChanges: 0,
          kernelResyncs: 0,
          kernelMalformed: 0,
        });
        const v4 = Array.from({ length: 70 }, (_, i) => 0xc6120100 + i);
        const v6 = Array.from(
          { length: 66 },
          (_, i) => [0xfd000000, 0, 0, 0x100 + i] as [number, number, number, number],
        );
        assert.equal(d.setKernelRxDropTo({ v4, v6 }), true);
        assert.equal(d.kernelRxDrop, "own");
        let f = d.kernelRxFilter!;
        assert.equal(f.loads, 1);
        assert.equal(f.leftOut, 6 + 2, "70 - 64 IPv4 and 66 - 64 IPv6 addresses left out");
        assert.equal(f.v4.length, 64);
        assert.equal(f.v6.length, 64);
        // The same set: no load. Another one: swapped into the same link.
        d.setKernelRxDropTo({ v4, v6 });
        assert.equal(d.kernelRxFilter!.loads, 1);
        d.setKernelRxDropTo({ v4: [0xc6120002], v6: [[0xfd000000, 0, 0, 2]] });
        f = d.kernelRxFilter!;
        assert.equal(f.loads, 2);
        assert.equal(f.leftOut, 0);
        assert.deepEqual([f.v4, f.v6], [[0xc6120002], [[0xfd000000, 0, 0, 2]]]);
        // Multicast is never put in; an empty set detaches.
        d.setKernelRxDropTo({ v4: [], v6: [[0xff020000, 0, 0, 1]] });
        assert.equal(d.kernelRxDrop, "none");
        assert.equal(d.kernelRxFilter!.failures, 0);
      } finally {
        d.close();
      }
      assert.equal(d.setKernelRxDropTo({ v4: [0xc6120002], v6: [] }), false, "closed");
    });
  },
);

/** Wait (≤ 5 s) until `cond()` holds: the runtime reads the kernel's changes every 500 ms. */
async function waitFor(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !cond(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(cond(), `${what} within 5 s`);
}

interopTest(
  "kernel_rx_drop6: the kernel's own address changes are followed — an address of the stack " +
    "the kernel gains later leaves the program (its frames reach the kernel), and comes back " +
    "when the kernel gives it up",
  async () => {
    // The harness starts with the kernel's IPv6 off on the stack's interface: the stack's
    // link-local address is its own alone, and in the program.
    await withVethPair({}, async (pair) => {
      const rt = await Runtime.start({
        driver: "af_packet",
        if: pair.stackIf,
        netns: pair.stackNs,
        addr: [`${pair.stackAddr}/24`, `${pair.stackAddr6}/64`],
      });
      try {
        await rt.addressesReady();
        const ll = rt.stack.ipv6.iface(rt.nic.index).addresses.list()
          .find((a) => a.origin === "link-local")!.addr.toString();
        const f = () => (rt.nic.driver as AfPacketRingDriver).kernelRxFilter!;
        assert.deepEqual(programV6(rt).sort(), [ll, pair.stackAddr6].sort());
        assert.equal(f().kernelWatch, true, "the kernel's notifications are read");
        const llPeer = `${ll}%${pair.peerIf}`;
        await ping(pair, llPeer, 1); // the peer's neighbour entry
        await ping(pair, pair.stackAddr, 1);

        // The kernel's IPv6 switched on: it gets the same link-local address (same MAC).
        await kernelIpv6On(pair);
        await waitFor(
          "the link-local address leaves the program",
          () => !programV6(rt).includes(ll),
        );
        assert.deepEqual(programV6(rt), [pair.stackAddr6], "fd00::2 stays");
        assert.ok(f().kernelChanges >= 1, JSON.stringify(f()));
        let before = await kernelIp6Unicast(pair);
        await ping(pair, llPeer, 3);
        const gained = (await kernelIp6Unicast(pair)) - before;
        assert.ok(gained >= 3, `the kernel receives its link-local's unicast again: ${gained}`);

        // The kernel gives it up: back into the program, the kernel sees none of it.
        const del = await pair.runInStackNs([
          "ip",
          "-6",
          "addr",
          "del",
          `${ll}/64`,
          "dev",
          pair.stackIf,
        ]);
        assert.equal(del.code, 0, del.stderr);
        await waitFor("the link-local address comes back", () => programV6(rt).includes(ll));
        before = await kernelIp6Unicast(pair);
        await ping(pair, llPeer, 3);
        assert.equal((await kernelIp6Unicast(pair)) - before, 0, "dropped for the kernel again");

        // IPv4 the same: the kernel takes the stack's 198.18.0.2 too, then drops it.
        const add4 = await pair.runInStackNs([
          "ip",
          "addr",
          "add",
          `${pair.stackAddr}/32`,
          "dev",
          pair.stackIf,
        ]);
        assert.equal(add4.code, 0, add4.stderr);
        await waitFor("198.18.0.2 leaves the program", () => f().v4.length === 0);
        let before4 = await kernelIpInReceives(pair);
        await ping(pair, pair.stackAddr, 3);
        const seen4 = (await kernelIpInReceives(pair)) - before4;
        assert.ok(seen4 >= 3, `the kernel receives 198.18.0.2's frames: ${seen4}`);
        const del4 = await pair.runInStackNs([
          "ip",
          "addr",
          "del",
          `${pair.stackAddr}/32`,
          "dev",
          pair.stackIf,
        ]);
        assert.equal(del4.code, 0, del4.stderr);
        await waitFor("198.18.0.2 comes back", () => f().v4.includes(0xc6120002));
        before4 = await kernelIpInReceives(pair);
        await ping(pair, pair.stackAddr, 3);
        assert.equal((await kernelIpInReceives(pair)) - before4, 0, "dropped for the kernel again");
        assert.equal(f().failures, 0);
        assert.equal(f().kernelMalformed, 0);
      } finally {
        await rt.stop();
      }
    });
  },
  { tools: ["ping"] },
);

interopTest(
  "kernel_rx_drop6: checkKernelAddresses reloads only for a kernel change of an address in the " +
    "set, and costs no reload when nothing came",
  async () => {
    await withVethPair({}, async (pair) => {
      const d = AfPacketRingDriver.open({
        ifname: pair.stackIf,
        netns: pair.stackNs,
        kernelRxDropTo: [],
      });
      try {
        assert.equal(d.checkKernelAddresses(), false, "not subscribed before an address");
        d.setKernelRxDropTo({ v4: [0xc6120002, 0xc6120003], v6: [[0xfd000000, 0, 0, 2]] });
        assert.equal(d.kernelRxFilter!.kernelWatch, true);
        assert.equal(d.checkKernelAddresses(), false, "nothing happened");
        const sh = async (cmd: string) => {
          const r = await pair.runInStackNs(["sh", "-c", cmd]);
          assert.equal(r.code, 0, r.stderr);
        };
        // An address the stack does not hold: read, no reload.
        await sh(`ip addr add 198.18.0.9/32 dev ${pair.stackIf}`);
        assert.equal(d.checkKernelAddresses(), false);
        const loads = d.kernelRxFilter!.loads;
        // Two of the stack's, one per family, in one go: one re-read, one load. (The kernel
        // announces an IPv6 address from a work queue: a moment after `ip` returns.)
        const settle = () => new Promise((r) => setTimeout(r, 300));
        await sh(
          `ip addr add 198.18.0.3/32 dev ${pair.stackIf} && ` +
            `echo 0 > /proc/sys/net/ipv6/conf/${pair.stackIf}/disable_ipv6 && ` +
            `ip -6 addr add fd00::2/128 dev ${pair.stackIf} nodad`,
        );
        await settle();
        assert.equal(d.checkKernelAddresses(), true);
        let f = d.kernelRxFilter!;
        assert.deepEqual([f.v4, f.v6, f.loads], [[0xc6120002], [], loads + 1]);
        assert.ok(f.kernelChanges >= 1);
        await settle();
        d.checkKernelAddresses();
        assert.equal(d.kernelRxFilter!.loads, loads + 1, "the same set: no second load");
        await sh(
          `ip addr del 198.18.0.3/32 dev ${pair.stackIf} && ` +
            `ip -6 addr del fd00::2/128 dev ${pair.stackIf}`,
        );
        await settle();
        assert.equal(d.checkKernelAddresses(), true);
        f = d.kernelRxFilter!;
        assert.deepEqual([[...f.v4].sort(), f.v6], [[0xc6120002, 0xc6120003], [[
          0xfd000000,
          0,
          0,
          2,
        ]]]);
        assert.equal(f.failures, 0);
      } finally {
        d.close();
      }
      assert.equal(d.checkKernelAddresses(), false, "closed");
    });
  },
);
