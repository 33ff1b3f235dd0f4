// No heap number per flood SYN that the per-source cookie limit drops. A spoofed flood from
// 200 sources (198.18.0.x, above 2**30) at a listener that answers every SYN with a cookie
// (`syncookies: 2`) and allows each source one a second: nearly every SYN is refused by the
// limiter (`SyncookiesRateLimited`), which is most of what a flood costs the stack. The
// limiter's token arithmetic in doubles made heap numbers per refused SYN (48 B here, 35 B in
// bench/flood_syn_cost.ts); in 32-bit integers, none (bench/README.md, branch flood9r).

import assert from "node:assert/strict";
import { type HeapRun, medianHeapGrowthPerUnit } from "../harness/heap_growth.ts";
import { rxMeta } from "../harness/net_meta.ts";
import { PEER_ADDR, RIG_ADDR, SERVICE_PORT, TcpRig } from "../harness/tcp_rig.ts";
import { RX_CSUM_VALID } from "../../link/driver.ts";
import { IpAddress } from "../../net/ip_address.ts";
import type { NetRxMeta } from "../../net/network_layer.ts";
import { TCP_FLAG_SYN } from "../../transport/tcp/header.ts";

/** Most heap growth per refused flood SYN (main measured 48 B here; this code passes at ~0). */
const MAX_BYTES_PER_SYN = 8;
/** Flooding sources. */
const SOURCES = 200;
/** SYNs per measured window, and per millisecond of the rig's clock. */
const WINDOW = 20_000;
const PER_MS = 200;

Deno.test(`sim syn flood alloc: a SYN the per-source cookie limit refuses allocates < ${MAX_BYTES_PER_SYN} B`, () => {
  const rig = new TcpRig({ tcp: { syncookies: 2, synCookieSourceRate: 1 } });
  rig.stack.tcp.listen(null, SERVICE_PORT, 64);
  const tcp = rig.stack.tcp;
  const st = rig.stack.stats.tcp;
  const metas: NetRxMeta[] = [];
  const syns: Uint8Array[] = [];
  for (let i = 0; i < SOURCES; i++) {
    const syn = rig.segmentBytes({ srcPort: 1024 + i, seq: i * 7919, flags: TCP_FLAG_SYN });
    syns.push(syn);
    metas.push(rxMeta(rig.stack, IpAddress.v4(PEER_ADDR + 9 + i), IpAddress.v4(RIG_ADDR), syn));
  }
  const flood = (n: number) => {
    for (let k = 0; k < n; k++) {
      const i = k % SOURCES;
      tcp.receive(metas[i], syns[i], 0, syns[i].length, RX_CSUM_VALID);
      if (k % PER_MS === PER_MS - 1) rig.clock.advance(1);
    }
  };
  flood(400_000); // warm: optimised code
  rig.take();
  const limited0 = st.SyncookiesRateLimited;
  const run: HeapRun = {
    step: () => flood(WINDOW),
    units: () => st.SyncookiesRateLimited,
  };
  const [perSyn] = medianHeapGrowthPerUnit([run], 12);
  const refused = st.SyncookiesRateLimited - limited0;
  assert.ok(refused > 0.9 * 12 * WINDOW, `${refused} SYNs refused`);
  assert.ok(perSyn < MAX_BYTES_PER_SYN, `${perSyn.toFixed(1)} B per refused SYN`);
});
