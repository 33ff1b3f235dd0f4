/**
 * ustack: a user-space TCP/IP stack for Deno.
 *
 * Boot a stack on a network interface in one call, then use it through the socket API:
 *
 * ```ts ignore
 * import { Runtime } from "@ustack/ustack";
 *
 * await using rt = await Runtime.start({ if: "veth0", addr: "198.18.0.2/24" });
 * console.log(`up on ${rt.nic.name} ${rt.nic.macString}`);
 * ```
 *
 * @module
 */

export { type DriverName, Runtime, type RuntimeConfig } from "./stack/runtime.ts";
export { type OutputSource, Stack, type StackOptions } from "./stack/stack.ts";
export { Nic } from "./stack/nic.ts";
export { EventLoop, type EventLoopOptions, type EventLoopStats } from "./stack/event_loop.ts";
export {
  EV_ERROR,
  EV_HANGUP,
  EV_READABLE,
  EV_WRITABLE,
  EventMux,
  type EventMuxStats,
  WaitQueue,
} from "./stack/event_mux.ts";
export { type Clock, MonotonicClock, VirtualClock } from "./stack/clock.ts";
export { type ErrnoCode, StackError } from "./stack/errors.ts";
export { type Counters, StackStats } from "./stack/stats.ts";
export { BufferPool, HEADROOM_BYTES, PacketBuffer } from "./stack/packet_buffer.ts";
export { Timer, TimerWheel } from "./stack/timer_wheel.ts";
export {
  DriverStats,
  type LinkCapabilities,
  type LinkDriver,
  NO_OFFLOADS,
  RX_CSUM_PARTIAL,
  RX_CSUM_VALID,
  RX_GSO,
  RxBatch,
  TxOffload,
} from "./link/driver.ts";
export { SimEndpoint, SimWire, type SimWireOptions } from "./link/sim_wire.ts";
export { PcapWriter } from "./link/pcap_writer.ts";
export { PcapDriver } from "./link/pcap_driver.ts";
export { formatMac, parseMac } from "./link/ethernet.ts";
export { AfPacketDriver, type AfPacketOptions } from "./drivers/af_packet.ts";
export { LoopbackDriver } from "./drivers/loopback.ts";
export { formatIpv4, parseIpv4, parseIpv4Cidr } from "./net/ipv4_address.ts";
export { type EchoReplyListener, Icmpv4Layer } from "./net/icmpv4.ts";
export { Ipv4Layer } from "./net/ipv4.ts";
export { RouteResult, RouteTable } from "./net/route_table.ts";
export { SyscallError } from "./ffi/errno.ts";
