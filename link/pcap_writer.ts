/**
 * A writer of classic libpcap capture files (the format `tcpdump -w` writes, read by
 * Wireshark/tshark): microsecond timestamps, version 2.4, Ethernet link type.
 *
 * Records are appended to one preallocated chunk and written to the file when the chunk
 * fills, on {@link PcapWriter.flush} and on {@link PcapWriter.close}, so writing a frame
 * costs a copy, not a syscall.
 *
 * File layout (all fields in the writer's byte order, little-endian here; readers detect it
 * from the magic number):
 * - global header, 24 bytes: magic u32, version major u16, minor u16, thiszone i32,
 *   sigfigs u32, snaplen u32, linktype u32;
 * - per record, 16 bytes: ts_sec u32, ts_usec u32, incl_len u32, orig_len u32, then
 *   incl_len bytes of frame.
 *
 * @module
 */

/** Magic number of a microsecond-resolution pcap file. */
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
/** pcap format major version. */
export const PCAP_VERSION_MAJOR = 2;
/** pcap format minor version. */
export const PCAP_VERSION_MINOR = 4;
/** Largest frame length recorded whole; longer frames are truncated (orig_len keeps it). */
export const PCAP_SNAPLEN = 262144;
/** `LINKTYPE_ETHERNET`: IEEE 802.3 frames starting at the destination MAC. */
export const LINKTYPE_ETHERNET = 1;
/** Bytes of the global file header. */
export const PCAP_FILE_HEADER_BYTES = 24;
/** Bytes of each record header. */
export const PCAP_RECORD_HEADER_BYTES = 16;

/** Global header offsets. */
const FH_MAGIC = 0;
const FH_VERSION_MAJOR = 4;
const FH_VERSION_MINOR = 6;
const FH_THISZONE = 8;
const FH_SIGFIGS = 12;
const FH_SNAPLEN = 16;
const FH_LINKTYPE = 20;
/** Record header offsets. */
const RH_TS_SEC = 0;
const RH_TS_USEC = 4;
const RH_INCL_LEN = 8;
const RH_ORIG_LEN = 12;

/** Default chunk: 1 MiB, room for several 64 KB super-frames. */
const DEFAULT_CHUNK_BYTES = 1 << 20;
const LITTLE_ENDIAN = true;

/** Where a {@link PcapWriter} writes: `Deno.FsFile` fits, and so does an in-memory sink. */
export interface PcapSink {
  /** Write some of `p`, returning how many bytes were written. */
  writeSync(p: Uint8Array): number;
  /** Release the sink. */
  close(): void;
}

/**
 * The 24-byte pcap global header: microsecond magic, version 2.4, zone 0, sigfigs 0,
 * snaplen {@link PCAP_SNAPLEN}, link type Ethernet.
 *
 * @example
 * ```ts
 * const header = encodePcapHeader();
 * header.length; // 24
 * ```
 */
export function encodePcapHeader(): Uint8Array {
  const out = new Uint8Array(PCAP_FILE_HEADER_BYTES);
  writeFileHeader(new DataView(out.buffer), 0);
  return out;
}

function writeFileHeader(view: DataView, at: number): void {
  view.setUint32(at + FH_MAGIC, PCAP_MAGIC_MICROSECONDS, LITTLE_ENDIAN);
  view.setUint16(at + FH_VERSION_MAJOR, PCAP_VERSION_MAJOR, LITTLE_ENDIAN);
  view.setUint16(at + FH_VERSION_MINOR, PCAP_VERSION_MINOR, LITTLE_ENDIAN);
  view.setInt32(at + FH_THISZONE, 0, LITTLE_ENDIAN);
  view.setUint32(at + FH_SIGFIGS, 0, LITTLE_ENDIAN);
  view.setUint32(at + FH_SNAPLEN, PCAP_SNAPLEN, LITTLE_ENDIAN);
  view.setUint32(at + FH_LINKTYPE, LINKTYPE_ETHERNET, LITTLE_ENDIAN);
}

/** Options of a {@link PcapWriter}. */
export interface PcapWriterOptions {
  /** Size of the write buffer in bytes (≥ 4096). Default 1 MiB. */
  chunkBytes?: number;
}

/**
 * Appends frames to a pcap file.
 *
 * @example
 * ```ts
 * const frame = new Uint8Array(60); // an Ethernet frame
 * const pcap = PcapWriter.open(Deno.makeTempFileSync({ suffix: ".pcap" }));
 * pcap.write(frame, 0, frame.length, Date.now());
 * pcap.close();
 * ```
 */
export class PcapWriter {
  /** Records written (including those still buffered). */
  frames = 0;
  readonly #sink: PcapSink;
  readonly #chunk: Uint8Array;
  readonly #view: DataView;
  #used = 0;
  #closed = false;

  /** Write to `sink`, starting with the global header (buffered). */
  constructor(sink: PcapSink, opts: PcapWriterOptions = {}) {
    const bytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!(Number.isInteger(bytes) && bytes >= 4096)) {
      throw new RangeError("PcapWriter: chunkBytes must be an integer >= 4096");
    }
    this.#sink = sink;
    this.#chunk = new Uint8Array(bytes);
    this.#view = new DataView(this.#chunk.buffer);
    writeFileHeader(this.#view, 0);
    this.#used = PCAP_FILE_HEADER_BYTES;
  }

  /** Create (or truncate) the file at `path` and write to it. */
  static open(path: string | URL, opts?: PcapWriterOptions): PcapWriter {
    const file = Deno.openSync(path, { write: true, create: true, truncate: true });
    return new PcapWriter(file, opts);
  }

  /**
   * Append one frame (`len` bytes of `frame` at `off`) seen at `timeMs` (wall-clock epoch
   * milliseconds, fractional for sub-millisecond precision). Frames longer than
   * {@link PCAP_SNAPLEN} are truncated, keeping the original length in the record.
   */
  write(frame: Uint8Array, off: number, len: number, timeMs: number): void {
    if (this.#closed) throw new Error("PcapWriter: closed");
    if (!(off >= 0 && len >= 0 && off + len <= frame.length)) {
      throw new RangeError("PcapWriter.write: off/len outside the frame");
    }
    const incl = len < PCAP_SNAPLEN ? len : PCAP_SNAPLEN;
    const need = PCAP_RECORD_HEADER_BYTES + incl;
    if (this.#used + need > this.#chunk.length) this.flush();
    let sec = Math.floor(timeMs / 1000);
    let usec = Math.round((timeMs - sec * 1000) * 1000);
    if (usec >= 1_000_000) {
      sec++;
      usec -= 1_000_000;
    }
    const view = this.#view;
    const at = this.#used;
    view.setUint32(at + RH_TS_SEC, sec >>> 0, LITTLE_ENDIAN);
    view.setUint32(at + RH_TS_USEC, usec, LITTLE_ENDIAN);
    view.setUint32(at + RH_INCL_LEN, incl, LITTLE_ENDIAN);
    view.setUint32(at + RH_ORIG_LEN, len, LITTLE_ENDIAN);
    this.#used = at + PCAP_RECORD_HEADER_BYTES;
    const bytes = frame.subarray(off, off + incl);
    if (need <= this.#chunk.length) {
      this.#chunk.set(bytes, this.#used);
      this.#used += incl;
    } else {
      // A record bigger than the whole chunk: header from the chunk, frame straight out.
      this.flush();
      this.#writeAll(bytes);
    }
    this.frames++;
  }

  /** Write the buffered records to the file. */
  flush(): void {
    if (this.#used === 0) return;
    this.#writeAll(this.#chunk.subarray(0, this.#used));
    this.#used = 0;
  }

  /** Flush and close the file; further writes throw, further closes do nothing. */
  close(): void {
    if (this.#closed) return;
    try {
      this.flush();
    } finally {
      this.#closed = true;
      this.#sink.close();
    }
  }

  #writeAll(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) {
      const n = this.#sink.writeSync(done === 0 ? bytes : bytes.subarray(done));
      if (!(n > 0)) throw new Error("PcapWriter: write made no progress");
      done += n;
    }
  }
}
