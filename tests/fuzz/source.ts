/**
 * Where each fuzz frame comes from: a fragment train already under way, a captured real frame
 * (from the seed corpus, mirrored when the host itself sent it) or a recently generated one,
 * mutated; or a fresh frame from a structure-aware generator, sometimes lightly mutated. Also
 * picks the driver's receive flags, how many frames go in one tick and how much virtual time
 * passes before it. Every choice comes from one seeded generator, so a seed names a run.
 *
 * @module
 */

import {
  RX_CSUM_MAYBE_PARTIAL,
  RX_CSUM_PARTIAL,
  RX_CSUM_VALID,
  RX_GSO,
} from "../../link/driver.ts";
import type { SeededRandom } from "../../core/random.ts";
import {
  ETH,
  ETHERTYPE_IPV4,
  get16,
  get32,
  PEER_MAC,
  put32,
  STACK_IP,
  STACK_MAC,
} from "./frames.ts";
import { SLOT_BYTES } from "./frame_queue.ts";
import { Generators } from "./generators.ts";
import { Mutator } from "./mutate.ts";
import type { PeerModel } from "./peer_model.ts";

/** Recently generated frames kept as extra mutation seeds. */
const HISTORY = 32;

/** The fuzzer's frame supply for one host. */
export class FrameSource {
  readonly #rng: SeededRandom;
  readonly #seeds: readonly Uint8Array[];
  readonly #gen: Generators;
  readonly #mut: Mutator;
  readonly #history: Uint8Array[] = [];
  readonly #historyLen = new Int32Array(HISTORY);
  #historyNext = 0;

  /** Frames for a host of link MTU `mtu` seen through `model`, from `seeds` and generators. */
  constructor(rng: SeededRandom, seeds: readonly Uint8Array[], model: PeerModel, mtu: number) {
    this.#rng = rng;
    this.#seeds = seeds;
    this.#gen = new Generators(rng, model, mtu);
    this.#mut = new Mutator(rng);
    for (let i = 0; i < HISTORY; i++) this.#history.push(new Uint8Array(SLOT_BYTES));
  }

  /** Write the next frame into `b` (SLOT_BYTES long); returns its length. */
  next(b: Uint8Array): number {
    const rng = this.#rng;
    const q = this.#gen.queue;
    if (q.length > 0 && rng.chance(0.85)) return q.shift(b);
    const r = rng.nextInt(100);
    let len: number;
    if (r < 30 && this.#seeds.length > 0) {
      const seed = this.#seeds[rng.nextInt(this.#seeds.length)];
      len = Math.min(seed.length, b.length);
      b.set(seed.subarray(0, len));
      if (rng.chance(0.7)) mirror(b, len);
      len = this.#mut.mutate(b, len, this.#donor(), 0.8);
    } else if (r < 42 && this.#historyNext > 0) {
      const i = rng.nextInt(Math.min(this.#historyNext, HISTORY));
      len = this.#historyLen[i];
      b.set(this.#history[i].subarray(0, len));
      len = this.#mut.mutate(b, len, this.#donor(), 0.85);
    } else {
      len = this.#gen.frame(b);
      const slot = this.#historyNext++ % HISTORY;
      this.#history[slot].set(b.subarray(0, len));
      this.#historyLen[slot] = len;
      if (rng.chance(0.15)) len = this.#mut.mutate(b, len, this.#donor(), 0.9);
    }
    return len;
  }

  /** Another frame to splice from. */
  #donor(): Uint8Array {
    const rng = this.#rng;
    if (this.#seeds.length > 0 && rng.chance(0.5)) {
      return this.#seeds[rng.nextInt(this.#seeds.length)];
    }
    const n = Math.min(this.#historyNext, HISTORY);
    if (n === 0) return this.#seeds[0] ?? new Uint8Array(0);
    const i = rng.nextInt(n);
    return this.#history[i].subarray(0, this.#historyLen[i]);
  }

  /** Receive flags for one frame: mostly none, sometimes what offloading drivers report. */
  flags(): number {
    const rng = this.#rng;
    if (rng.chance(0.9)) return 0;
    return [
      RX_CSUM_VALID,
      RX_CSUM_PARTIAL,
      RX_CSUM_MAYBE_PARTIAL,
      RX_GSO,
      RX_GSO | RX_CSUM_PARTIAL,
    ][
      rng.nextInt(5)
    ];
  }

  /** Frames in the next tick. */
  batch(): number {
    const rng = this.#rng;
    return rng.chance(0.8) ? 1 + rng.nextInt(3) : 1 + rng.nextInt(16);
  }

  /** Virtual milliseconds before the next tick: mostly short, now and then past a timeout. */
  advanceMs(): number {
    const rng = this.#rng;
    const r = rng.nextInt(1000);
    if (r < 700) return rng.nextInt(3);
    if (r < 960) return rng.nextInt(200);
    if (r < 995) return 200 + rng.nextInt(5000);
    return 5000 + rng.nextInt(60000);
  }
}

/**
 * Turn a frame the host sent (captured in the seed corpus) into one addressed to it: swap the
 * MACs, the IPv4 addresses and the TCP/UDP ports. Checksums stay valid (the sums are the same).
 */
function mirror(b: Uint8Array, len: number): void {
  if (len < ETH + 20 || get16(b, 12) !== ETHERTYPE_IPV4 || get32(b, ETH + 12) !== STACK_IP) return;
  for (let i = 0; i < 6; i++) {
    b[i] = STACK_MAC[i];
    b[6 + i] = PEER_MAC[i];
  }
  const src = get32(b, ETH + 12);
  put32(b, ETH + 12, get32(b, ETH + 16));
  put32(b, ETH + 16, src);
  const hb = (b[ETH] & 15) * 4;
  const l4 = ETH + hb;
  const proto = b[ETH + 9];
  if ((proto === 6 || proto === 17) && l4 + 4 <= len && (get16(b, ETH + 6) & 0x1fff) === 0) {
    for (let i = 0; i < 2; i++) {
      const t = b[l4 + i];
      b[l4 + i] = b[l4 + 2 + i];
      b[l4 + 2 + i] = t;
    }
  }
}
