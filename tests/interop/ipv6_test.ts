// Kernel interop for IPv6: the `ustack` CLI on one end of a veth pair (the kernel's IPv6 is off
// there), the Linux kernel on the other with fd00::1/64. NDP both ways, ping -6 to the global
// and the link-local address, duplicate address detection against a kernel that owns the
// address, radvd and SLAAC, UDP over IPv6, hostile input, and a clean capture.

import assert from "node:assert/strict";
import { AfPacketDriver } from "../../drivers/af_packet.ts";
import { withNetns } from "../../ffi/netns.ts";
import { RxBatch } from "../../link/driver.ts";
import { IpAddress, IpAddressScratch } from "../../net/ip_address.ts";
import { linkLocalFromMac } from "../../net/ipv6_address.ts";
import { assertCleanCapture } from "../harness/capture.ts";
import { interopTest, waitFor } from "../harness/interop.ts";
import { concat, icmpv6, ipv6Frame, llOption } from "../harness/ipv6_frames.ts";
import { formatMac, runCommand, type VethPair, withVethPair } from "../harness/netns.ts";
import { runCli, startServe } from "../harness/ustack_cli.ts";

/** The stack's IPv6 address on the pair as an `--addr` argument. */
function addr6(pair: VethPair): string[] {
  return ["--addr", `${pair.stackAddr6}/${pair.prefixLen6}`];
}

/** The `ready` event of a `--json` serve. */
function readyEvent(lines: string[]): { addrs: string[] } {
  const line = lines.find((l) => l.startsWith('{"event":"ready"'));
  assert.ok(line !== undefined, `no ready line in ${lines.join("\n")}`);
  return JSON.parse(line);
}

interopTest(
  "kernel ping -6 reaches the global and the link-local address; NDP both ways",
  async () => {
    await withVethPair({}, async (pair) => {
      const serve = await startServe(pair, [...addr6(pair), "--json"]);
      const stackLl = `${linkLocalFromMac(pair.stackMac)}`;
      try {
        assert.deepEqual(readyEvent(serve.lines).addrs, [
          `${pair.stackAddr}/24`,
          `${pair.stackAddr6}/64`,
          `${stackLl}/64`,
        ]);
        for (const dst of [pair.stackAddr6, `${stackLl}%${pair.peerIf}`]) {
          const r = await pair.run(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", dst]);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.match(r.stdout, /3 packets transmitted, 3 received/);
        }
        const neigh = await pair.run(["ip", "-6", "neigh", "show", pair.stackAddr6]);
        assert.match(neigh.stdout, new RegExp(formatMac(pair.stackMac)));
      } finally {
        assert.equal(await serve.stop(), 0);
      }
      const stats = serve.statsEvent()!;
      assert.equal(stats.icmp6.OutEchoReplies, 6);
      assert.ok(stats.icmp6.InNeighborSolicits >= 1, "the kernel solicited us");
      assert.ok(stats.icmp6.OutNeighborAdvertisements >= 1);
      assert.equal(stats.ndp.DadSuccesses, 2);
      assert.equal(stats.icmp6.InCsumErrors, 0);
    });
  },
  { tools: ["ping"] },
);

interopTest("ustack ping to the kernel's global and link-local IPv6 addresses", async () => {
  await withVethPair({}, async (pair) => {
    const peerLl = await pair.peerLinkLocal();
    const link = ["--if", pair.stackIf, ...addr6(pair)];
    for (const dst of [pair.peerAddr6, `${peerLl}%${pair.stackIf}`]) {
      const r = await runCli(pair, ["ping", dst, "-c", "2", "-i", "0.2", "-W", "2", ...link]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /icmp_seq=1 ttl=64 time=/);
      assert.match(r.stdout, /2 packets transmitted, 2 received, 0% packet loss/);
    }
    // The kernel learned the stack's MAC when it answered.
    const neigh = await pair.run(["ip", "-6", "neigh", "show", pair.stackAddr6]);
    assert.match(neigh.stdout, new RegExp(formatMac(pair.stackMac)));
  });
}, { tools: ["ping"] });

interopTest(
  "an address the kernel already owns is reported duplicate, never listed and never defended",
  async () => {
    await withVethPair({}, async (pair) => {
      const taken = "fd00::5";
      await pair.run(["ip", "addr", "add", `${taken}/64`, "dev", pair.peerIf, "nodad"]);
      const pcap = await Deno.makeTempFile({ suffix: ".pcap" });
      try {
        const serve = await startServe(pair, [
          ...addr6(pair),
          "--addr",
          `${taken}/64`,
          "--json",
          "--pcap",
          pcap,
        ]);
        try {
          const dup = serve.lines.find((l) => l.startsWith('{"event":"address"'));
          assert.deepEqual(JSON.parse(dup!), {
            event: "address",
            addr: `${taken}/64`,
            origin: "static",
            state: "duplicate",
          });
          const addrs = readyEvent(serve.lines).addrs;
          assert.ok(!addrs.includes(`${taken}/64`), addrs.join());
          assert.ok(addrs.includes(`${pair.stackAddr6}/64`));
          // Make the kernel ask for the address: it must not hear the stack answer.
          await pair.run(["ip", "-6", "neigh", "flush", "dev", pair.peerIf]);
          await pair.run(["ping", "-6", "-c", "1", "-W", "1", pair.stackAddr6]);
        } finally {
          assert.equal(await serve.stop(), 0);
        }
        assert.equal(serve.statsEvent()!.ndp.DadFailures, 1);
        const sent = await runCommand([
          "tshark",
          "-r",
          pcap,
          "-Y",
          `eth.src == ${formatMac(pair.stackMac)} && (icmpv6.nd.na.target_address == ${taken} ` +
          `|| ipv6.src == ${taken})`,
        ]);
        assert.equal(sent.code, 0, sent.stderr);
        assert.equal(sent.stdout.trim(), "", `the stack used ${taken}:\n${sent.stdout}`);
      } finally {
        await Deno.remove(pcap).catch(() => {});
      }
    });
  },
  { tools: ["ping", "tshark"] },
);

interopTest(
  "radvd on the peer: the stack's SLAAC address comes up and answers ping and curl -6",
  async () => {
    await withVethPair({}, async (pair) => {
      const dir = await Deno.makeTempDir();
      const conf = `${dir}/radvd.conf`;
      await Deno.writeTextFile(
        conf,
        `interface ${pair.peerIf} { AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 6;
  AdvLinkMTU 1400; prefix fd00:6::/64 { AdvOnLink on; AdvAutonomous on; }; };\n`,
      );
      // radvd refuses to advertise unless forwarding is on in its namespace; the router needs
      // an address in the prefix it advertises to reach the hosts that take it.
      await pair.run(["sysctl", "-w", "net.ipv6.conf.all.forwarding=1"]);
      await pair.run(["ip", "addr", "add", "fd00:6::1/64", "dev", pair.peerIf, "nodad"]);
      const radvd = pair.spawn(["radvd", "-n", "-C", conf, "-p", `${dir}/pid`, "-m", "stderr"], {
        stdout: "null",
        stderr: "null",
      });
      const slaac = `${IpAddress.parse(`fd00:6::${eui64Suffix(pair.stackMac)}`)}`;
      try {
        await pair.peerLinkLocal(); // radvd advertises from the link-local address
        const serve = await startServe(pair, ["--slaac", "--http", "80", "--json"]);
        try {
          await serve.waitForLine(/"event":"address".*"origin":"slaac"/, 15_000);
          const ev = serve.lines.map((l) => JSON.parse(l)).find((e) => e.origin === "slaac");
          assert.deepEqual(ev, {
            event: "address",
            addr: `${slaac}/64`,
            origin: "slaac",
            state: "preferred",
          });
          const r = await pair.run(["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", slaac]);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.match(r.stdout, /2 packets transmitted, 2 received/);
          const page = await pair.run([
            "curl",
            "-6",
            "-sS",
            "-g",
            "-m",
            "10",
            `http://[${slaac}]/`,
          ]);
          assert.equal(page.code, 0, page.stderr);
          assert.match(page.stdout, /Hello from ustack/);
        } finally {
          assert.equal(await serve.stop(), 0);
        }
        const stats = serve.statsEvent()!;
        assert.ok(stats.icmp6.OutRouterSolicits >= 1);
        assert.ok(stats.ndp.RaAccepted >= 1);
      } finally {
        try {
          radvd.kill("SIGTERM");
        } catch { /* already gone */ }
        await radvd.status;
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    });
  },
  { tools: ["ping", "radvd", "curl"] },
);

/** The modified EUI-64 interface identifier of `mac` as the last four IPv6 groups. */
function eui64Suffix(mac: Uint8Array): string {
  const ll = linkLocalFromMac(mac);
  return `${new IpAddress(0, 0, ll.w2, ll.w3)}`.replace(/^::/, "");
}

/** Kernel AF_INET6 UDP round trip: stdin as one datagram, the answer on stdout. */
const ROUND_TRIP6 = `
import socket, sys
data = sys.stdin.buffer.read()
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(data, (sys.argv[1], int(sys.argv[2])))
sys.stdout.buffer.write(s.recv(65535))
`;

interopTest(
  "serve --udp-echo over IPv6: 1, 1232 and 8000 bytes come back byte-exact (fragmented at MTU 1500)",
  async () => {
    await withVethPair({}, async (pair) => {
      const serve = await startServe(pair, [...addr6(pair), "--udp-echo", "7", "--json"]);
      const input = await Deno.makeTempFile({ suffix: ".in" });
      try {
        for (const len of [1, 1232, 8000]) {
          const data = new Uint8Array(len);
          crypto.getRandomValues(data);
          await Deno.writeFile(input, data);
          const r = await pair.run([
            "sh",
            "-c",
            `python3 -c "$0" ${pair.stackAddr6} 7 < ${input} > ${input}.out`,
            ROUND_TRIP6,
          ]);
          assert.equal(r.code, 0, r.stderr);
          assert.deepEqual(await Deno.readFile(`${input}.out`), data, `echo of ${len} bytes`);
        }
      } finally {
        await Deno.remove(input).catch(() => {});
        await Deno.remove(`${input}.out`).catch(() => {});
        assert.equal(await serve.stop(), 0);
      }
      const stats = serve.statsEvent()!;
      assert.equal(stats.udp.InDatagrams, 3);
      assert.equal(stats.ip6.ReasmOKs, 1, "the kernel fragmented the 8000-byte datagram");
      assert.ok(stats.ip6.FragCreates >= 6, "and so did the stack");
    });
  },
  { tools: ["python3"] },
);

interopTest(
  "hostile IPv6 input is dropped and counted: NDP hop limit, truncated headers, routing type 0, overlapping fragments",
  async () => {
    await withVethPair({}, async (pair) => {
      const serve = await startServe(pair, [...addr6(pair), "--json"]);
      const inject = withNetns(pair.peerNs, () => AfPacketDriver.open({ ifname: pair.peerIf }));
      const src = IpAddress.parse(pair.peerAddr6);
      const dst = IpAddress.parse(pair.stackAddr6);
      const frame = (nextHeader: number, payload: Uint8Array, hopLimit = 64) =>
        ipv6Frame({
          srcMac: pair.peerMac,
          dstMac: pair.stackMac,
          src,
          dst,
          hopLimit,
          nextHeader,
          payload,
        });
      const echo = (seq: number) =>
        icmpv6(src, dst, 128, 0, (0xbeef << 16) | seq, new Uint8Array(8));
      try {
        // Let the kernel resolve the stack first, so nothing else is going on.
        await pair.run(["ping", "-6", "-c", "1", "-W", "2", pair.stackAddr6]);
        const ns = icmpv6(src, dst, 135, 0, 0, concat(dst.toBytes(), llOption(1, pair.peerMac)));
        const rh0 = concat(new Uint8Array([58, 2, 0, 1, 0, 0, 0, 0]), new Uint8Array(16), echo(2));
        const msg = echo(3);
        const frag = (offset: number, more: boolean, data: Uint8Array) =>
          concat(new Uint8Array([58, 0, 0, offset | (more ? 1 : 0), 0, 0, 0, 7]), data);
        const frames = [
          frame(58, ns, 64), // NDP with a hop limit below 255
          frame(60, new Uint8Array([58, 3, 1, 2, 0, 0])), // destination options past the end
          frame(43, rh0), // routing type 0 with a segment left
          frame(44, frag(0, true, msg.subarray(0, 16))),
          frame(44, frag(8, false, msg.subarray(8, 16))), // overlaps the first
          frame(58, echo(1)), // a good one last
        ];
        for (const f of frames) {
          assert.ok(inject.transmit(f, 0, f.length, null));
          inject.flush();
        }
        const batch = new RxBatch(64);
        const seen = new IpAddressScratch();
        let paramProblems = 0;
        await waitFor(() => {
          const n = inject.receive(batch, batch.capacity);
          let answered = false;
          for (let i = 0; i < n; i++) {
            const f = batch.buf[i].subarray(batch.off[i], batch.off[i] + batch.len[i]);
            if (f.length < 62 || f[12] !== 0x86 || f[13] !== 0xdd || f[20] !== 58) continue;
            if (seen.setFrom6(f, 22).toString() !== pair.stackAddr6) continue;
            if (f[54] === 4) paramProblems++;
            if (f[54] === 129 && f[58] === 0xbe && f[61] === 1) answered = true;
          }
          inject.release(batch);
          return answered;
        }, { what: "the echo reply to the good injected frame" });
        assert.equal(paramProblems, 1, "routing type 0 gets a parameter problem");
      } finally {
        inject.close();
        await serve.stop();
      }
      const stats = serve.statsEvent()!;
      assert.equal(stats.ndp.InBadHopLimit, 1);
      assert.equal(stats.ip6.InHdrErrors, 2);
      assert.equal(stats.ip6.ReasmOverlaps, 1);
      assert.equal(stats.icmp6.OutParmProblems, 1);
      assert.equal(stats.icmp6.OutEchoReplies, 2);
    });
  },
  { tools: ["ping"] },
);

interopTest(
  "the pcap of an IPv6 session (NDP, MLD, ping -6, UDP, TCP) opens in tshark with nothing flagged",
  async () => {
    await withVethPair({}, async (pair) => {
      const pcap = await Deno.makeTempFile({ suffix: ".pcap" });
      try {
        const serve = await startServe(pair, [
          ...addr6(pair),
          "--udp-echo",
          "7",
          "--http",
          "80",
          "--pcap",
          pcap,
        ]);
        const r = await pair.run([
          "ping",
          "-6",
          "-c",
          "3",
          "-i",
          "0.2",
          "-s",
          "3000",
          pair.stackAddr6,
        ]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const u = await pair.run([
          "sh",
          "-c",
          `printf hello | python3 -c "$0" ${pair.stackAddr6} 7`,
          ROUND_TRIP6,
        ]);
        assert.equal(u.stdout, "hello");
        const page = await pair.run([
          "curl",
          "-6",
          "-sS",
          "-g",
          "-m",
          "10",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          `http://[${pair.stackAddr6}]/bytes/300000`,
        ]);
        assert.equal(page.stdout, "200", page.stderr);
        await serve.stop();
        const all = await runCommand(["tshark", "-r", pcap]);
        assert.equal(all.code, 0, all.stderr);
        for (
          const what of [
            /Neighbor Solicitation/,
            /Neighbor Advertisement/,
            /Multicast Listener Report Message v2/,
            /Echo \(ping\) reply/,
          ]
        ) {
          assert.match(all.stdout, what);
        }
        await assertCleanCapture(pcap);
      } finally {
        await Deno.remove(pcap).catch(() => {});
      }
    });
  },
  { tools: ["ping", "tshark", "python3", "curl"] },
);
