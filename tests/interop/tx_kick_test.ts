// Kernel interop for the TX-ring kicker thread (`--tx-kick thread`, drivers/tx_kicker.ts): bulk
// TCP both ways and UDP (whole and fragmented datagrams) between the stack and kernel sockets,
// byte-exact, with every kick but a full ring's made on the kicker thread.

import assert from "node:assert/strict";
import { AF_INET, type AfPacketRingDriver, Runtime, SOCK_DGRAM } from "../../mod.ts";
import { interopTest, waitFor } from "../harness/interop.ts";
import { ECHO_ONCE, echoThrough } from "../harness/kernel_echo.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";

/**
 * A kernel UDP sink on argv[1]: checks every datagram against the pattern its first 4 bytes
 * (a big-endian sequence number n) select, byte i = (i + n) & 0xff; on a datagram of 1 byte
 * prints "good bad" and exits.
 */
const UDP_CHECK = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
base = bytes(i & 0xff for i in range(65536 + 256))
good = bad = 0
while True:
    d = s.recv(65535)
    if len(d) == 1:
        break
    k = int.from_bytes(d[:4], "big") & 0xff
    if d[4:] == base[4 + k:len(d) + k]:
        good += 1
    else:
        bad += 1
print(good, bad, flush=True)
`;

/** A stack on the pair with `--tx-kick thread`, and its driver. */
async function startThreadKicked(pair: VethPair): Promise<[Runtime, AfPacketRingDriver]> {
  const rt = await Runtime.start({
    if: pair.stackIf,
    netns: pair.stackNs,
    addr: `${pair.stackAddr}/${pair.prefixLen}`,
    txKick: "thread",
  });
  const driver = rt.nic.driver as AfPacketRingDriver;
  assert.equal(driver.kind, "af_packet");
  assert.equal(driver.txKick, "thread");
  // The kicker thread starts in the background and the driver kicks by itself meanwhile: beside
  // two busy loops a whole 20-MB echo ran before it did (no handoff; bench/README.md, "wait37").
  // What is proven is where the kicks go once it runs.
  try {
    await waitFor(() => driver.txKickerRunning, {
      what: "the kicker thread to run",
      timeoutMs: 30_000,
    });
  } catch (e) {
    await rt[Symbol.asyncDispose]();
    throw e;
  }
  return [rt, driver];
}

async function tcpBothWays(pair: VethPair, bytes: number): Promise<void> {
  const server = pair.spawn(["python3", "-c", ECHO_ONCE, "5000"], {
    stdout: "null",
    stderr: "null",
  });
  try {
    await pair.waitForListener("tcp", 5000);
    const [rt, driver] = await startThreadKicked(pair);
    await using _rt = rt;
    const conn = await rt.connect({ hostname: pair.peerAddr, port: 5000 });
    const data = Uint8Array.from({ length: bytes }, (_, i) => (i * 31 + (i >>> 13)) & 0xff);
    const back = await echoThrough(conn, data);
    assert.equal(back.length, data.length);
    assert.ok(back.every((b, i) => b === data[i]), "echo is byte-exact");
    conn.close();
    const s = driver.stats;
    assert.ok(s.txKickHandoffs > 0, "kicks went to the kicker thread");
    assert.equal(s.txKickErrors, 0);
  } finally {
    try {
      server.kill();
    } catch { /* gone */ }
    await server.status;
  }
}

interopTest("tx kicker thread: 20 MB to a kernel echo and back, byte-exact", async () => {
  await withVethPair({ ipv6: false }, (pair) => tcpBothWays(pair, 20_000_000));
}, { tools: ["python3", "ss"] });

interopTest("tx kicker thread: 20 MB both ways at MTU 9000, byte-exact", async () => {
  await withVethPair({ ipv6: false, mtu: 9000 }, (pair) => tcpBothWays(pair, 20_000_000));
}, { tools: ["python3", "ss"] });

for (const [mtu, len] of [[9000, 8900], [1500, 3000]]) {
  interopTest(
    `tx kicker thread: ${len}-byte UDP datagrams at MTU ${mtu} reach a kernel socket intact`,
    async () => {
      await withVethPair({ ipv6: false, mtu }, async (pair) => {
        const sink = pair.spawn(["python3", "-c", UDP_CHECK, "5300"], {
          stdout: "piped",
          stderr: "null",
        });
        const lines = sink.stdout!.pipeThrough(new TextDecoderStream()).getReader();
        assert.match((await lines.read()).value ?? "", /ready/);
        const [rt, driver] = await startThreadKicked(pair);
        await using _rt = rt;
        const fd = rt.sockets.socket(AF_INET, SOCK_DGRAM);
        const count = 2000;
        const d = new Uint8Array(len);
        let sent = 0;
        for (let n = 0; n < count; n++) {
          new DataView(d.buffer).setUint32(0, n);
          for (let i = 4; i < len; i++) d[i] = (i + n) & 0xff;
          try {
            rt.sockets.sendto(fd, d, pair.peerAddr, 5300);
            sent++;
          } catch { /* a full queue: counted as not sent */ }
          // Bursts of 8, then let the loop run: the sink must not be overrun.
          if (n % 8 === 7) await new Promise((r) => setTimeout(r, 1));
        }
        await waitFor(() => driver.txPending === 0, { what: "the TX ring to be kicked" });
        // The sink has read every datagram that reached its socket (a receive queue of 0): the
        // end marker then neither waits behind them nor meets a full queue. No fixed sleep: a
        // loaded machine runs the sink late.
        await waitFor(async () => {
          const r = await pair.run(["ss", "-Hlun", "sport = :5300"]);
          return r.code === 0 && r.stdout.trim().split(/\s+/)[1] === "0";
        }, { what: "the sink to empty its receive queue", timeoutMs: 30_000, intervalMs: 20 });
        // The marker is a datagram too: sent again until the sink answers (one lost to a frame
        // the kernel dropped must not hang the test), bounded.
        const answer = lines.read();
        let answered = false;
        answer.then(() => (answered = true));
        for (let i = 0; !answered; i++) {
          if (i === 40) throw new Error("the sink did not answer 40 end markers in 10 s");
          rt.sockets.sendto(fd, new Uint8Array(1), pair.peerAddr, 5300);
          await Promise.race([answer, new Promise((r) => setTimeout(r, 250))]);
        }
        const first = await answer;
        let out = first.done ? "" : first.value;
        for (;;) {
          const r = await lines.read();
          if (r.done) break;
          out += r.value;
        }
        await sink.status;
        const [good, bad] = out.trim().split(/\s+/).map(Number);
        assert.equal(bad, 0, "no datagram arrived damaged");
        assert.ok(sent >= count * 0.9, `sent ${sent} of ${count}`);
        assert.ok(good >= sent * 0.9, `${good} of ${sent} datagrams arrived`);
        assert.ok(driver.stats.txKickHandoffs > 0);
        assert.equal(driver.stats.txKickErrors, 0);
        rt.sockets.close(fd);
      });
    },
    { tools: ["python3", "ss"] },
  );
}
