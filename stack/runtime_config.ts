/**
 * The configuration a `Runtime` boots from: one object whose field names follow the CLI
 * flags. Kept apart from `runtime.ts` so the stack-per-core files can name it without importing
 * the runtime.
 *
 * @module
 */

import type { LinkDriver } from "../link/driver.ts";
import type { EventLoopOptions } from "./event_loop.ts";
import type { HostsMap } from "./host_address.ts";
import type { HttpClientOptions } from "./http/client.ts";
import type { StackOptions } from "./stack.ts";

/** Link drivers the runtime can build; each driver's `kind` is the name that opens it. */
export type DriverName = "af_packet" | "af_packet_mmsg" | "af_xdp" | "tap" | "loopback";

/** Everything needed to boot a stack; field names follow the CLI flags. */
export interface RuntimeConfig {
  /**
   * Frame pump ["af_packet"]: `af_packet` is the TPACKET RX ring + TX ring
   * (`AfPacketRingDriver`) with the virtio-net header (checksum and TCP/UDP segmentation
   * offloads; `vnetHdr: false` turns them off), `af_packet_mmsg` the simpler recvmmsg/sendmmsg
   * pump (`AfPacketDriver`), `af_xdp` (the project's own XDP redirect program, detached when the
   * runtime stops), `tap` (creates or attaches the TAP named by `if`; the kernel side of the TAP
   * is the peer), or `loopback` (no interface: sockets of one process). The driver's `kind` is
   * this name.
   */
  driver?: DriverName;
  /** af_packet and tap: use the virtio-net header (offloads) [af_packet: true, tap: false]. */
  vnetHdr?: boolean;
  /**
   * af_packet: RX ring version ["v2"]: per-frame hand-over (lowest latency, 64 KB slots), or
   * "v3" (block ring: less memory, better for floods of small frames, up to 1 ms extra latency).
   */
  rxRing?: "v2" | "v3";
  /**
   * af_packet, RX ring v2: slot size: true for MTU-sized slots (larger GRO super-frames come
   * through the socket queue, one recvfrom each), false for 68 KiB slots that hold a 64 KB
   * super-frame [MTU-sized up to MTU 4096, 68 KiB above].
   */
  rxSmallSlots?: boolean;
  /**
   * af_packet, RX ring v2 with MTU-sized slots: a second packet socket with a ring of 64 KiB
   * slots takes the GRO super-frames, merged in order with the first
   * (`AfPacketRingOptions.rxSplit`) [true with MTU-sized slots].
   */
  rxSplit?: boolean;
  /**
   * af_packet, RX ring v2: the longest frame a large slot holds whole, Ethernet bytes
   * (`AfPacketRingOptions.rxLargeFrameBytes`): more than a 64 KB super-frame for a kernel peer
   * with BIG TCP [69,828: a 64 KB super-frame].
   */
  rxLargeFrameBytes?: number;
  /**
   * af_packet: where the TX ring's kick (`sendto`) runs ["auto"]: on the stack's thread
   * ("sync"), on a kicker thread ("thread"), or on it for batches of 48 KiB (a TCP
   * super-segment) and more, while it is awake and while a kick asked of it is still pending
   * ("auto"); or an io_uring send taken by the kernel's submission-queue polling thread
   * ("uring", opt-in); always "sync" with one CPU (`AfPacketRingOptions.txKick`).
   */
  txKick?: "sync" | "thread" | "auto" | "uring";
  /** af_packet, txKick thread/auto: µs the kicker spins before it sleeps [0]. */
  txKickSpinUs?: number;
  /** af_packet, txKick uring: ms the polling thread spins before it sleeps [1]. */
  txKickUringIdleMs?: number;
  /** af_packet, txKick uring: pin the polling thread to this CPU [not pinned]. */
  txKickUringCpu?: number;
  /** af_packet: TX ring slots, at least (`AfPacketRingOptions.txFrames`) [128]. */
  txFrames?: number;
  /**
   * af_packet: kick as soon as this many bytes of frames other than TCP super-segments are
   * queued (`AfPacketRingOptions.txKickBytes`) [256 KiB].
   */
  txKickBytes?: number;
  /**
   * af_packet: UDP fragmentation offload — an IPv4 datagram longer than the MTU goes to the
   * kernel as one frame and the kernel fragments it; turns PACKET_QDISC_BYPASS off
   * (`AfPacketRingOptions.udpFragmentationOffload`) [`AF_PACKET_RING_DEFAULT_UFO`].
   */
  udpFragmentationOffload?: boolean;
  /**
   * af_packet: which of the interface's frames the host kernel's own protocols receive too.
   * By default (undefined) all but the untagged frames to the stack's own addresses — IPv4,
   * and unicast IPv6 (static, link-local, SLAAC), each added or removed while the stack runs
   * too, less those the kernel holds itself: a tcx program drops those after the packet socket
   * has its copy (Linux ≥ 6.6, root; where it cannot be attached the kernel receives them as
   * before), so the kernel's IP receive path (route lookup, drop) no longer runs for the
   * stack's traffic. NDP and other multicast still reach the kernel. true: the kernel receives
   * every frame (no program). false: a program drops every frame for the kernel (where the
   * stack owns the interface); the kernel then receives nothing on it.
   */
  kernelRx?: boolean;
  /** AF_XDP: queue to bind [0]. */
  queue?: number;
  /** AF_XDP: ask for zero-copy (falls back to copy mode where the device can't). */
  zeroCopy?: boolean;
  /** Interface to attach to (required for af_packet). */
  if?: string;
  /**
   * Addresses in CIDR form, IPv4 or IPv6 (`198.18.0.2/24`, `fd00:5::2/64`); one or many. IPv6
   * ones are tentative until duplicate address detection passes (`Runtime.addressesReady`).
   */
  addr?: string | string[];
  /**
   * Default gateway(s): an IPv4 router on an `addr` subnet, and/or an IPv6 router (link-local,
   * or in an `addr` prefix).
   */
  gw?: string | string[];
  /** Solicit routers and configure from their advertisements, SLAAC addresses included. */
  slaac?: boolean;
  /** Lower the MTU used on the link. */
  mtu?: number;
  /** Record every frame sent and received to this pcap file. */
  pcap?: string;
  /** Open the driver inside this network namespace (`/var/run/netns/NAME`). */
  netns?: string;
  /**
   * TCP congestion control of the stack's connections: "cubic" (Linux's default and
   * ours), "bbr", or "newreno" ("reno"); a connection can change it with TCP_CONGESTION.
   * Overrides `stack.tcp.congestionControl`.
   */
  cc?: string;
  /** Stack tunables. */
  stack?: StackOptions;
  /** Event-loop tunables. */
  loop?: EventLoopOptions;
  /** Use this driver instead of building one (tests, custom pumps). */
  linkDriver?: LinkDriver;
  /**
   * Names `rt.fetch()` and the node-style sockets resolve, to literal addresses
   * (`{ "api.test": "198.18.0.1" }`); there is no DNS.
   */
  hosts?: HostsMap;
  /** Tunables of `rt.fetch()`'s connection pool. */
  http?: Omit<HttpClientOptions, "hosts">;
  /**
   * af_packet drivers: join this AF_PACKET fanout group (set by the workers machinery for
   * each worker's stack; `drivers/packet_fanout.ts`).
   */
  fanoutGroup?: number;
}
