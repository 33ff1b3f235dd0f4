/**
 * What the network layer sees of a NIC: its addresses and a way to send a packet as an
 * Ethernet frame. Implemented by `stack/nic.ts`; defined here so `net/` depends only on `link/`.
 *
 * @module
 */

import type { PacketBuffer } from "../core/packet_buffer.ts";
import type { LinkCapabilities, TxOffload } from "./driver.ts";

/** A NIC as seen from the network layer. */
export interface LinkEndpoint {
  /** Stack-local NIC index (1-based). */
  readonly index: number;
  /** Interface name. */
  readonly name: string;
  /** 6-byte MAC. */
  readonly mac: Uint8Array;
  /** IP MTU in bytes. */
  readonly mtu: number;
  /** Offloads of the underlying driver. */
  readonly capabilities: LinkCapabilities;
  /**
   * Prepend an Ethernet header (dst `dstMac[dstOff..+6]`, our MAC, `etherType`) to `pb`, hand the
   * frame to the driver and free `pb` (always, also when refused). Returns false if refused.
   */
  output(
    pb: PacketBuffer,
    dstMac: Uint8Array,
    dstOff: number,
    etherType: number,
    offload: TxOffload | null,
  ): boolean;
}
