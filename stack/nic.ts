/**
 * A NIC: one {@link LinkDriver} attached to the stack. It receives frame batches and
 * demultiplexes them by EtherType, and frames outgoing packets (prepends Ethernet) into the
 * driver's transmit queue.
 *
 * @module
 */

import type { LinkCapabilities, LinkDriver, TxOffload } from "../link/driver.ts";
import { RX_LINK_NOT_HOST, RxBatch } from "../link/driver.ts";
import type { LinkEndpoint } from "../link/link_endpoint.ts";
import {
  ETH_HEADER_BYTES,
  EthernetHeader,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  formatMac,
  writeEthernetHeader,
} from "../link/ethernet.ts";
import type { BufferPool, PacketBuffer } from "../core/packet_buffer.ts";
import type { Counters } from "./stats.ts";

/** Where a NIC hands the frames it received. */
export interface NicReceiver {
  /** An ARP packet (Ethernet payload). */
  receiveArp(nicIndex: number, buf: Uint8Array, off: number, len: number): void;
  /** An IPv4 packet (Ethernet payload); `rxFlags` are the driver's `RX_*` bits. */
  receiveIpv4(nicIndex: number, buf: Uint8Array, off: number, len: number, rxFlags: number): void;
  /** An IPv6 packet (Ethernet payload). */
  receiveIpv6(nicIndex: number, buf: Uint8Array, off: number, len: number, rxFlags: number): void;
}

/**
 * One network interface of a stack.
 *
 * @example
 * ```ts ignore
 * const nic = stack.addNic(driver);
 * console.log(nic.name, nic.macString, nic.mtu);
 * ```
 */
export class Nic implements LinkEndpoint {
  /** Stack-local index (1-based). */
  readonly index: number;
  /** The driver. */
  readonly driver: LinkDriver;
  /** MAC address. */
  readonly mac: Uint8Array;
  /** IP MTU. */
  readonly mtu: number;
  /** Interface name. */
  readonly name: string;
  /** Offloads. */
  readonly capabilities: LinkCapabilities;
  /** Receive everything, not only our MAC and broadcast/multicast. */
  promiscuous = false;
  readonly #pool: BufferPool;
  readonly #stats: Counters;
  readonly #receiver: NicReceiver;
  readonly #batch: RxBatch;
  readonly #eth = new EthernetHeader();
  /** The driver takes a gathered payload as it lies (`transmitGather`). */
  readonly #gather: boolean;

  /** Attach `driver` as NIC number `index`. */
  constructor(
    index: number,
    driver: LinkDriver,
    pool: BufferPool,
    stats: Counters,
    receiver: NicReceiver,
    rxBatch = 64,
  ) {
    this.index = index;
    this.driver = driver;
    this.mac = driver.mac.slice();
    this.mtu = driver.mtu;
    this.name = driver.name;
    this.capabilities = driver.capabilities;
    this.#pool = pool;
    this.#stats = stats;
    this.#receiver = receiver;
    this.#batch = new RxBatch(rxBatch);
    this.#gather = typeof driver.transmitGather === "function";
  }

  /** The MAC as `aa:bb:cc:dd:ee:ff`. */
  get macString(): string {
    return formatMac(this.mac);
  }

  /** Receive and process up to one batch of frames; returns how many frames were seen. */
  poll(): number {
    const batch = this.#batch;
    const n = this.driver.receive(batch, batch.capacity);
    if (n === 0) return 0;
    const st = this.#stats;
    const eth = this.#eth;
    const mac = this.mac;
    for (let i = 0; i < n; i++) {
      const buf = batch.buf[i];
      const off = batch.off[i];
      const len = batch.len[i];
      st.InFrames++;
      if (len < ETH_HEADER_BYTES) {
        st.InTruncated++;
        continue;
      }
      eth.attach(buf, off, len);
      const forUs = eth.isForMac(mac);
      if (!forUs && !this.promiscuous && !eth.isMulticast()) {
        st.InNotForUs++;
        continue;
      }
      const type = eth.etherType;
      const flags = (batch.flags[i] & ~RX_LINK_NOT_HOST) | (forUs ? 0 : RX_LINK_NOT_HOST);
      // The protocol code drops bad input without throwing; this guard only keeps a stack bug
      // that one frame triggers from taking the whole stack down (counted, never silent).
      try {
        if (type === ETHERTYPE_IPV4) {
          this.#receiver.receiveIpv4(
            this.index,
            buf,
            off + ETH_HEADER_BYTES,
            len - ETH_HEADER_BYTES,
            flags,
          );
        } else if (type === ETHERTYPE_IPV6) {
          this.#receiver.receiveIpv6(
            this.index,
            buf,
            off + ETH_HEADER_BYTES,
            len - ETH_HEADER_BYTES,
            flags,
          );
        } else if (type === ETHERTYPE_ARP) {
          this.#receiver.receiveArp(
            this.index,
            buf,
            off + ETH_HEADER_BYTES,
            len - ETH_HEADER_BYTES,
          );
        } else {
          st.InUnknownEtherType++;
        }
      } catch (e) {
        st.InInternalErrors++;
        if (st.InInternalErrors <= 10) console.error("ustack: internal error on receive:", e);
      }
    }
    this.driver.release(batch);
    return n;
  }

  /**
   * Frame `pb` and queue it on the driver; frees `pb`. A gathered payload goes to a driver
   * that takes one as it lies ({@link LinkDriver.transmitGather}: its one copy, into the
   * driver's slot); for the others it is copied behind the headers first.
   */
  output(
    pb: PacketBuffer,
    dstMac: Uint8Array,
    dstOff: number,
    etherType: number,
    offload: TxOffload | null,
  ): boolean {
    const o = pb.prepend(ETH_HEADER_BYTES);
    const d = pb.data;
    writeEthernetHeader(d, o, dstMac, this.mac, etherType, dstOff);
    let ok: boolean;
    if (pb.gatherLength === 0) {
      ok = this.driver.transmit(d, o, pb.tail - o, offload);
    } else if (this.#gather) {
      ok = this.driver.transmitGather!(
        d,
        o,
        pb.tail - o,
        pb.gatherSource!,
        pb.gatherOffset,
        pb.gatherLength,
        offload,
      );
    } else {
      ok = pb.flatten() && this.driver.transmit(d, o, pb.tail - o, offload);
    }
    if (ok) this.#stats.OutFrames++;
    else this.#stats.OutDropped++;
    this.#pool.free(pb);
    return ok;
  }
}
