/**
 * The files of `uperf client --cc-trace BASE`: `BASE.json` (the field names, the send MSS,
 * the record count and how many the ring overwrote) and `BASE.cc.f64` (the first stream's
 * {@link CcTrace} records, little-endian float64, {@link CC_TRACE_FIELDS} per record). Read
 * by `bench/cc_trace.ts`.
 *
 * @module
 */

import { CC_TRACE_FIELD_NAMES, CC_TRACE_FIELDS, type CcTrace } from "../transport/tcp/cc_trace.ts";

/** Per-ACK records kept (80 bytes each; the oldest go first): ~10 s of a lossy stream. */
export const CC_TRACE_RECORDS = 1 << 20;

/** What `BASE.json` holds. */
export interface CcTraceHeader {
  /** Names of a record's fields, in order. */
  fields: readonly string[];
  /** The send MSS (bytes) when the trace was written. */
  mss: number;
  /** Records in `BASE.cc.f64`. */
  records: number;
  /** Records overwritten because the ring was full. */
  dropped: number;
}

/** Write `trace` under `base`. */
export async function writeCcTrace(base: string, trace: CcTrace, mss: number): Promise<void> {
  const records = trace.snapshot();
  const header: CcTraceHeader = {
    fields: CC_TRACE_FIELD_NAMES,
    mss,
    records: records.length / CC_TRACE_FIELDS,
    dropped: trace.recorded - trace.length,
  };
  await Deno.writeTextFile(`${base}.json`, JSON.stringify(header) + "\n");
  await Deno.writeFile(
    `${base}.cc.f64`,
    new Uint8Array(records.buffer, records.byteOffset, records.byteLength),
  );
}
