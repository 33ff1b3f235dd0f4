/**
 * The ustack demo: makes two network namespaces joined by a veth pair, boots the stack on one
 * end (in this process, through `Runtime`), and points real kernel tools at it from the other
 * end — `ping`, the kernel's ARP table, a UDP round trip with `socat`, a 10 MB HTTP download
 * with `curl` checked by SHA-256 — then prints what happened and the stack's counters, and
 * deletes everything it made.
 *
 * Run as root: `deno task demo`.
 *
 * @module
 */

import { AF_INET, POLLIN, Runtime, SOCK_DGRAM } from "../mod.ts";
import { createVethPair, type VethPair } from "../tests/harness/netns.ts";
import { startHttp } from "./tcp_services.ts";

const step = (title: string) => console.log(`\n=== ${title}`);
const indent = (text: string) => text.trimEnd().split("\n").map((l) => "  " + l).join("\n");

async function udpEchoServer(rt: Runtime, port: number): Promise<void> {
  const s = rt.sockets;
  const fd = s.socket(AF_INET, SOCK_DGRAM);
  s.bind(fd, "0.0.0.0", port);
  const buf = new Uint8Array(65536);
  for (;;) {
    const ev = await s.wait(fd, POLLIN);
    if ((ev & POLLIN) === 0) return; // closed
    for (;;) {
      let r;
      try {
        r = s.recvfrom(fd, buf);
      } catch {
        break; // EAGAIN: queue drained
      }
      s.sendto(fd, buf.subarray(0, r.bytes), r.addr, r.port);
    }
  }
}

async function main(): Promise<number> {
  if (Deno.uid() !== 0) {
    console.error("the demo makes network namespaces: run it as root (CAP_NET_ADMIN, CAP_NET_RAW)");
    return 1;
  }
  let pair: VethPair | undefined;
  try {
    step("setting up: namespaces, a veth pair, kernel address 198.18.0.1/24 on the peer end");
    pair = await createVethPair({ ipv6: false });
    console.log(`  stack namespace ${pair.stackNs} (${pair.stackIf}, no kernel address)`);
    console.log(`  kernel namespace ${pair.peerNs} (${pair.peerIf} ${pair.peerAddr}/24)`);

    step("booting ustack on the stack end");
    await using rt = await Runtime.start({
      if: pair.stackIf,
      netns: pair.stackNs,
      addr: `${pair.stackAddr}/24`,
    });
    console.log(`  up: ${rt.nic.name} ${rt.nic.macString} ${rt.addrs.join(" ")} mtu ${rt.nic.mtu}`);
    void udpEchoServer(rt, 7).catch((e) => console.error("udp echo:", e));
    const http = startHttp(rt, 80);

    step(`kernel: ping -c 3 ${pair.stackAddr}`);
    const ping = await pair.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", pair.stackAddr]);
    console.log(indent(ping.stdout + ping.stderr));

    step("kernel: its ARP table learned the stack's MAC");
    const neigh = await pair.run(["ip", "neigh", "show", "dev", pair.peerIf]);
    console.log(indent(neigh.stdout || "(empty)"));

    step(`kernel: socat sends a UDP datagram to ${pair.stackAddr}:7, the stack echoes it`);
    const echo = await pair.run(
      ["socat", "-t", "1", "-", `UDP:${pair.stackAddr}:7`],
      { stdin: "hello from the Linux kernel\n", timeoutMs: 5_000 },
    );
    console.log(
      indent(echo.code === 0 ? `echoed back: ${echo.stdout}` : `socat failed: ${echo.stderr}`),
    );

    const n = 10_000_000;
    step(
      `kernel: curl http://${pair.stackAddr}/bytes/${n} (byte i is i % 251), checked by SHA-256`,
    );
    const t0curl = performance.now();
    const curl = await pair.run([
      "sh",
      "-c",
      `curl -sS --fail -m 60 http://${pair.stackAddr}/bytes/${n} | sha256sum`,
    ], { timeoutMs: 70_000 });
    const secs = (performance.now() - t0curl) / 1000;
    const body = new Uint8Array(n);
    for (let i = 0; i < n; i++) body[i] = i % 251;
    const want = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", body)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const got = curl.stdout.split(" ")[0];
    console.log(indent(
      curl.code !== 0
        ? `curl failed: ${curl.stderr}`
        : `${got === want ? "byte-exact" : "MISMATCH"}: sha256 ${got}\n` +
          `${(n / 1e6).toFixed(0)} MB in ${secs.toFixed(2)} s (${
            (n * 8 / secs / 1e9).toFixed(2)
          } Gbit/s)`,
    ));
    http.close();

    step("stack: ping the kernel from user space");
    const seen: number[] = [];
    rt.stack.icmp.listenEcho(0x5157, { onEchoReply: (_s, seq) => seen.push(seq) });
    const payload = new Uint8Array(56);
    const t0 = performance.now();
    for (let seq = 1; seq <= 3; seq++) {
      rt.stack.icmp.sendEcho(0xc6120001, 0x5157, seq, payload, 0, 56);
      rt.stack.requestTick();
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(
      `  ${seen.length}/3 echo replies from ${pair.peerAddr} in ${
        (performance.now() - t0).toFixed(0)
      } ms`,
    );

    step("stack counters");
    for (const [layer, group] of Object.entries(rt.stack.stats.nonZero())) {
      console.log(`  ${layer}: ${Object.entries(group).map(([k, v]) => `${k}=${v}`).join(" ")}`);
    }
    return ping.code === 0 && seen.length > 0 && got === want ? 0 : 1;
  } finally {
    if (pair !== undefined) {
      await pair.destroy();
      step("cleaned up: namespaces deleted");
    }
  }
}

if (import.meta.main) Deno.exit(await main());
