/**
 * Interleaved rounds for `bench:e2e`'s connection rows (`pingpong --connect`, HTTP `ab`/`wrk`):
 * the kernel pair and the stack pairs run one after the other inside each round, the order
 * rotating from round to round, and a row's figure is the median over the rounds, with each
 * round's figure and its ratio to the same round's kernel pair beside it. One slow slot (a
 * fresh pair's cold crowd sharing a CPU with the machine's other work: bench/README.md, branch
 * `conn9z`) then moves one round's figure, not the cell.
 *
 * @module
 */

import { median as medianOf } from "./ab_rounds.ts";

/** One step of a round's schedule: which step and where it ran in its round. */
export interface ScheduledStep<T> {
  /** Round, from 0. */
  round: number;
  /** Position inside the round, from 0. */
  slot: number;
  /** The step. */
  step: T;
}

/**
 * The order of `steps` over `rounds` rounds: every step once per round, round `r` starting
 * with step `r` (mod their number), so no step always runs first or last.
 */
export function roundSchedule<T>(steps: readonly T[], rounds: number): ScheduledStep<T>[] {
  const out: ScheduledStep<T>[] = [];
  const n = steps.length;
  for (let round = 0; round < rounds; round++) {
    for (let slot = 0; slot < n; slot++) {
      out.push({ round, slot, step: steps[(round + slot) % n] });
    }
  }
  return out;
}

/** The median of the finite figures (the mean of the middle two for an even count); null if none. */
export function median(values: readonly (number | null)[]): number | null {
  const xs = finite(values);
  return xs.length === 0 ? null : medianOf(xs);
}

/**
 * The round whose figure is the median (the lower of the middle two for an even count): its
 * tool summaries stand for the cell. -1 when no round has a figure.
 */
export function medianRound(values: readonly (number | null)[]): number {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) if (isFinite(values[i])) idx.push(i);
  if (idx.length === 0) return -1;
  idx.sort((a, b) => (values[a] as number) - (values[b] as number) || a - b);
  return idx[(idx.length - 1) >> 1];
}

/** A row's figures over the rounds, for one column. */
export interface RoundSpread {
  /** Each round's figure (null: the round failed or was not run). */
  perRound: (number | null)[];
  /** Rounds with a figure. */
  n: number;
  /** Median of them. */
  median: number | null;
  /** Lowest. */
  min: number | null;
  /** Highest. */
  max: number | null;
}

/** The spread of one column's figures over the rounds. */
export function spreadOf(perRound: readonly (number | null)[]): RoundSpread {
  const xs = finite(perRound);
  return {
    perRound: [...perRound],
    n: xs.length,
    median: median(xs),
    min: xs.length === 0 ? null : Math.min(...xs),
    max: xs.length === 0 ? null : Math.max(...xs),
  };
}

/**
 * Each round's ratio of `values` to `base` (the kernel pair of the same round); null where
 * either is missing or the base is 0.
 */
export function pairedRatios(
  values: readonly (number | null)[],
  base: readonly (number | null)[],
): (number | null)[] {
  return values.map((v, i) => {
    const b = base[i] ?? null;
    return isFinite(v) && isFinite(b) && b !== 0 ? v / b : null;
  });
}

/** Figures by row key, column and round, collected as the rounds run. */
export class RoundFigures<C extends string> {
  readonly #rounds: number;
  readonly #figures = new Map<string, Map<C, (number | null)[]>>();

  /** `rounds`: how many rounds each row runs. */
  constructor(rounds: number) {
    this.#rounds = rounds;
  }

  /** Record `key`'s figure of column `col` in `round` (non-numbers become null). */
  set(key: string, col: C, round: number, value: unknown): void {
    let byCol = this.#figures.get(key);
    if (byCol === undefined) this.#figures.set(key, byCol = new Map());
    let xs = byCol.get(col);
    if (xs === undefined) byCol.set(col, xs = new Array(this.#rounds).fill(null));
    xs[round] = typeof value === "number" && Number.isFinite(value) ? value : null;
  }

  /** Each round's figure of `key` in `col` (all null when never set). */
  perRound(key: string, col: C): (number | null)[] {
    return [...(this.#figures.get(key)?.get(col) ?? new Array(this.#rounds).fill(null))];
  }

  /** The row keys that have any figure. */
  keys(): string[] {
    return [...this.#figures.keys()];
  }

  /** The columns of `key` that have any figure. */
  columns(key: string): C[] {
    return [...(this.#figures.get(key)?.keys() ?? [])];
  }

  /** `key`'s spread in `col`. */
  spread(key: string, col: C): RoundSpread {
    return spreadOf(this.perRound(key, col));
  }

  /** `key`'s per-round ratios of `col` to `base`, and their spread. */
  ratioSpread(key: string, col: C, base: C): RoundSpread {
    return spreadOf(pairedRatios(this.perRound(key, col), this.perRound(key, base)));
  }
}

function isFinite(x: number | null | undefined): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

function finite(values: readonly (number | null)[]): number[] {
  return values.filter(isFinite);
}
