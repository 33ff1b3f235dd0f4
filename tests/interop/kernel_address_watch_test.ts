/**
 * `KernelAddressWatch` against the kernel: the address notifications of the namespace it was
 * opened in, both families, added and deleted, on which interface; and what it does when the
 * kernel overruns its receive queue (`ENOBUFS`) or a datagram does not fit its buffer — it asks
 * for a full re-read instead of guessing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { KernelAddressWatch } from "../../drivers/kernel_address_watch.ts";
import type { KernelAddressChange } from "../../ffi/rtnetlink.ts";
import { interopTest } from "../harness/interop.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";

/** Run `cmd` with `sh -c` in the stack's namespace; asserts success. */
async function sh(pair: VethPair, cmd: string): Promise<void> {
  const r = await pair.runInStackNs(["sh", "-c", cmd]);
  assert.equal(r.code, 0, r.stderr);
}

/**
 * Wait until `probe` — a second watch, opened before the watch under test — has read a change
 * that `want` accepts (bounded by `timeoutMs`). The kernel announces an IPv6 address from a
 * work queue, a moment after `ip` returns; it sends each notification to every listener in one
 * pass, newest subscriber first, so once the older probe holds it the watch under test does too,
 * and the test reads that watch once, whole. No fixed sleep: a loaded machine announces late.
 */
async function announced(
  probe: KernelAddressWatch,
  want: (c: KernelAddressChange) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const seen: KernelAddressChange[] = [];
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const news = probe.read();
    if (news !== null) seen.push(...news.changes);
    if (seen.some(want)) return;
    if (performance.now() >= deadline) {
      throw new Error(`no ${what} announced in ${timeoutMs} ms; seen ${JSON.stringify(seen)}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** fd00::9, IPv6 and as the change carries it. */
const isFd009 = (c: KernelAddressChange) =>
  c.family === 6 && c.v6 !== null && c.v6[0] === 0xfd000000 && c.v6[3] === 9;

interopTest(
  "kernel_address_watch: the kernel's address additions and deletions of both families, with " +
    "their interface",
  async () => {
    await withVethPair({}, async (pair) => {
      // Opened first: the kernel notifies it after the watch under test.
      const probe = KernelAddressWatch.open({ netns: pair.stackNs });
      const watch = KernelAddressWatch.open({ netns: pair.stackNs });
      try {
        assert.equal(watch.read(), null, "nothing yet");
        const ifindex = Number(
          (await pair.runInStackNs(["cat", `/sys/class/net/${pair.stackIf}/ifindex`])).stdout,
        );
        await sh(
          pair,
          `echo 0 > /proc/sys/net/ipv6/conf/${pair.stackIf}/disable_ipv6 && ` +
            `ip addr add 198.18.0.9/32 dev ${pair.stackIf} && ` +
            `ip -6 addr add fd00::9/128 dev ${pair.stackIf} nodad`,
        );
        await announced(probe, (c) => isFd009(c) && !c.deleted, "fd00::9 added");
        let news = watch.read();
        assert.ok(news !== null);
        assert.equal(news.resync, false);
        const added4 = news.changes.find((c) => c.family === 4);
        assert.deepEqual(added4, {
          deleted: false,
          family: 4,
          ifindex,
          prefixLen: 32,
          v4: 0xc6120009,
          v6: null,
        });
        const v6 = news.changes.filter((c) => c.family === 6).map((c) => c.v6);
        assert.ok(
          v6.some((w) => w !== null && w[0] === 0xfd000000 && w[3] === 9),
          JSON.stringify(news.changes),
        );
        assert.equal(watch.read(), null, "all read");
        await sh(
          pair,
          `ip addr del 198.18.0.9/32 dev ${pair.stackIf} && ` +
            `ip -6 addr del fd00::9/128 dev ${pair.stackIf}`,
        );
        await announced(probe, (c) => isFd009(c) && c.deleted, "fd00::9 deleted");
        news = watch.read();
        assert.ok(news !== null);
        const gone = news.changes.filter((c) => c.deleted).map((c) => c.family).sort();
        assert.deepEqual(gone, [4, 6]);
        assert.equal(watch.malformed, 0);
        assert.ok(watch.messages >= 4);
      } finally {
        watch.close();
        probe.close();
      }
      assert.equal(watch.read(), null, "closed");
      watch.close(); // idempotent
    });
  },
);

interopTest(
  "kernel_address_watch: an overrun receive queue (ENOBUFS) and a datagram cut by a small " +
    "buffer ask for a full re-read",
  async () => {
    await withVethPair({}, async (pair) => {
      // The smallest receive queue the kernel allows (it takes a few notifications at most).
      const small = KernelAddressWatch.open({ netns: pair.stackNs, receiveQueueBytes: 1 });
      const cut = KernelAddressWatch.open({ netns: pair.stackNs, bufferBytes: 16 });
      try {
        const dir = await Deno.makeTempDir();
        const batch = `${dir}/addrs`;
        await Deno.writeTextFile(
          batch,
          Array.from({ length: 200 }, (_, i) => `addr add 198.18.1.${i}/32 dev ${pair.stackIf}\n`)
            .join(""),
        );
        try {
          await sh(pair, `ip -batch ${batch}`);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
        let news = small.read();
        assert.ok(news !== null);
        assert.equal(news.resync, true);
        assert.ok(small.overruns >= 1, `overruns ${small.overruns}`);
        // The socket goes on: the next change arrives whole.
        while (small.read() !== null) { /* drain what is left */ }
        await sh(pair, `ip addr add 198.18.2.1/32 dev ${pair.stackIf}`);
        news = small.read();
        assert.ok(news !== null);
        assert.deepEqual(news.changes.map((c) => c.v4), [0xc6120201]);
        assert.equal(news.resync, false);
        // Every datagram was longer than 16 bytes: none parsed, each asks for a re-read.
        news = cut.read();
        assert.ok(news !== null);
        assert.equal(news.resync, true);
        assert.deepEqual(news.changes, []);
        assert.ok(cut.truncated >= 1, `truncated ${cut.truncated}`);
        assert.equal(cut.malformed, 0);
      } finally {
        small.close();
        cut.close();
      }
    });
  },
);
