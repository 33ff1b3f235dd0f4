/**
 * One stack (198.18.0.2/24) and a scripted peer that writes raw frames at it: no second stack,
 * so a test can send exactly the segments it needs (holes, floods of SYNs) and read the
 * stack's answers. Time is virtual. Frames are written with the fuzzer's header writers.
 *
 * @module
 */

import { VirtualClock } from "../../core/clock.ts";
import { Stack, type StackOptions } from "../../stack/stack.ts";
import { FuzzDriver } from "../fuzz/fuzz_driver.ts";
import {
  ACK,
  ETH,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  macOf,
  PEER_IP,
  STACK_IP,
  STACK_MAC,
  SYN,
  transportChecksum,
  writeArp,
  writeEth,
  writeIpv4,
  writeTcp,
} from "../fuzz/frames.ts";
import { PeerModel, type TcpSession } from "../fuzz/peer_model.ts";

export { PEER_IP, STACK_IP };

/** A stack and a raw peer in front of it. */
export class RawPeer {
  /** Virtual time. */
  readonly clock: VirtualClock = new VirtualClock(1_000_000);
  /** The stack under test. */
  readonly stack: Stack;
  /** Its link. */
  readonly driver: FuzzDriver = new FuzzDriver(1500, false);
  /** What the peer learned from the stack's frames (TCP sequence numbers). */
  readonly model: PeerModel = new PeerModel();
  readonly #frame = new Uint8Array(2048);

  /** Build the stack with `opts` (the clock is provided). */
  constructor(opts: Omit<StackOptions, "clock"> = {}) {
    this.stack = new Stack({ ...opts, clock: this.clock });
    const nic = this.stack.addNic(this.driver);
    this.stack.ipv4.addAddress(nic.index, STACK_IP, 24);
    this.driver.observer = this.model;
  }

  /** Inject one frame and run a tick. */
  inject(frame: Uint8Array, len: number): void {
    this.driver.queue(frame, len, 0);
    this.stack.tick();
  }

  /** Let `ms` of virtual time pass in 10 ms ticks. */
  advance(ms: number): void {
    for (let t = 0; t < ms; t += 10) {
      this.clock.advance(Math.min(10, ms - t));
      this.stack.tick();
    }
  }

  /** An ARP request from `ip` for the stack's address: the stack learns `ip`'s MAC. */
  arpFrom(ip: number): void {
    const f = this.#frame;
    writeEth(f, [255, 255, 255, 255, 255, 255], macOf(ip), ETHERTYPE_ARP);
    writeArp(f, ETH, 1, macOf(ip), ip, [0, 0, 0, 0, 0, 0], STACK_IP);
    this.inject(f, ETH + 28);
  }

  /** A TCP segment from `PEER_IP:srcPort` to the stack's `dstPort` with `data` bytes of 0x5a. */
  tcp(
    srcPort: number,
    dstPort: number,
    seq: number,
    ack: number,
    flags: number,
    data = 0,
  ): void {
    const f = this.#frame;
    writeEth(f, STACK_MAC, macOf(PEER_IP), ETHERTYPE_IPV4);
    const l4 = ETH + 20;
    const hl = writeTcp(f, l4, { srcPort, dstPort, seq, ack, flags, window: 65535 });
    f.fill(0x5a, l4 + hl, l4 + hl + data);
    writeIpv4(f, ETH, { src: PEER_IP, dst: STACK_IP, protocol: 6, payloadLen: hl + data });
    transportChecksum(f, l4, hl + data, 6, PEER_IP, STACK_IP);
    this.inject(f, l4 + hl + data);
  }

  /**
   * Open a connection from `PEER_IP:srcPort` to `dstPort` (SYN, then the ACK of the SYN-ACK);
   * the peer's first data byte is `isn + 1`. Returns what the peer knows of it.
   */
  connect(srcPort: number, dstPort: number, isn: number): TcpSession {
    this.tcp(srcPort, dstPort, isn, 0, SYN);
    const s = this.model.session(PEER_IP, srcPort, dstPort);
    this.tcp(srcPort, dstPort, isn + 1, s.hostNext, ACK);
    return s;
  }
}
