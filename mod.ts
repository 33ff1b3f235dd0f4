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

export {
  type AddressChangeListener,
  type DriverName,
  Runtime,
  type RuntimeConfig,
} from "./stack/runtime.ts";
export {
  bulkClient,
  type ConnectionWarmUpOptions,
  type ConnectionWarmUpReport,
  requestClient,
  type RequestClientOptions,
  WARM_UP_CONCURRENCY,
  type WarmUpClient,
  warmUpConnections,
  type WarmUpCrowd,
  type WarmUpLinkOptions,
  type WarmUpWire,
} from "./stack/conn_warm_up.ts";
export {
  prepareUdpReceive,
  type UdpWarmUpOptions,
  type UdpWarmUpReport,
  warmUpUdpReceive,
} from "./stack/udp_warm_up.ts";
export {
  type GroupCounters,
  RuntimeWorkers,
  type RuntimeWorkersConfig,
  sumWorkerCounters,
  type WorkerExitListener,
  type WorkerStatus,
} from "./stack/workers.ts";
export type { WorkerApp, WorkerContext, WorkerMain } from "./stack/worker_app.ts";
export type { WorkerCounters } from "./stack/worker_protocol.ts";
export type { NeighbourBatch, SharedNeighbour } from "./stack/neighbour_share.ts";
export { flowWorker } from "./drivers/flow_steering.ts";
export { Stack, type StackOptions } from "./stack/stack.ts";
export { type OutputScheduler, type OutputSource } from "./core/output_queue.ts";
export {
  AF_INET,
  AF_INET6,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_UNICAST_HOPS,
  IPV6_V6ONLY,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  type RecvFromResult,
  SO_BROADCAST,
  SO_ERROR,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_SNDBUF,
  SO_TYPE,
  SOCK_DGRAM,
  SOCK_STREAM,
  type SockAddr,
  SocketTable,
  SOL_SOCKET,
  TCP_CONGESTION,
} from "./stack/socket.ts";
export {
  UDP6_MAX_PAYLOAD,
  UDP_MAX_PAYLOAD,
  UdpEndpoint,
  UdpLayer,
  type UdpOptions,
  UdpPeer,
} from "./transport/udp.ts";
export { UdpLease, UdpMessages } from "./transport/udp_records.ts";
export { type UdpSocketHost } from "./transport/udp_endpoint.ts";
export { DemuxTable, hashTuple, PortAllocator } from "./transport/demux.ts";
export { type TcpAddr, TcpConn, TcpServer } from "./stack/tcp_conn.ts";
export type { ConsumeCallback } from "./stack/tcp_consumer.ts";
export {
  HttpServer,
  type HttpServerStats,
  type ServeHandler,
  type ServeHandlerInfo,
  type ServeOptions,
} from "./stack/http/server.ts";
export { HttpHead } from "./stack/http/head_parser.ts";
export { type HttpResponder, RawResponse } from "./stack/http/raw_response.ts";
export { HttpClient, type HttpClientOptions } from "./stack/http/client.ts";
export {
  type AddressFamily,
  formatHostAddress,
  type HostAddress,
  type HostsMap,
  isIP,
  isIPv4,
  isIPv6,
  parseHostAddress,
  resolveHost,
} from "./stack/host_address.ts";
export { SocketRegistry } from "./stack/socket_registry.ts";
export {
  ControlServer,
  type ControlSources,
  listSockets,
  queryControl,
  type RemoteControlSource,
  type SocketEntry,
} from "./stack/control.ts";
export { nstatCounters, nstatName } from "./stack/nstat.ts";
export {
  type AckClockCount,
  type ResolvedTcpOptions,
  type TcpConnectOptions,
  TcpLayer,
  type TcpListenOptions,
  type TcpOptions,
  type TransportContext,
} from "./transport/tcp/tcp_layer.ts";
export { TcpState } from "./transport/tcp/state.ts";
export { TcpEndpoint } from "./transport/tcp/endpoint.ts";
export { TcpListener } from "./transport/tcp/listener.ts";
export { type TcpFlow, type TimeWaitRecord } from "./transport/tcp/time_wait.ts";
export { type Flow } from "./transport/flow_table.ts";
export {
  RingStoragePool,
  type RingStoragePoolOptions,
  type RingStorageStats,
} from "./core/ring_storage.ts";
export { type TcpInfo } from "./transport/tcp/tcp_info.ts";
export {
  CONGESTION_CONTROL_NAMES,
  DEFAULT_CONGESTION_CONTROL,
  isCongestionControlName,
  UnknownCongestionControlError,
} from "./transport/tcp/congestion/mod.ts";
export { Nic } from "./stack/nic.ts";
export {
  EventLoop,
  type EventLoopOptions,
  type EventLoopStats,
  type EventLoopTimes,
} from "./stack/event_loop.ts";
export {
  LoopTrace,
  TRACE_BLOCK,
  TRACE_FLUSH,
  TRACE_INLINE,
  TRACE_KIND_NAMES,
  TRACE_MICROTASKS,
  TRACE_PARK,
  TRACE_RX,
  TRACE_SPIN,
  TRACE_TICK,
  TRACE_TRANSMIT,
  TRACE_TX,
  TRACE_YIELD,
} from "./stack/loop_trace.ts";
export { RecordRing } from "./core/record_ring.ts";
export {
  Histogram,
  type HistogramOptions,
  type HistogramState,
  latencyHistogram,
  type LatencySummary,
  latencySummary,
} from "./core/histogram.ts";
export {
  EV_ERROR,
  EV_HANGUP,
  EV_READABLE,
  EV_WRITABLE,
  EventMux,
  type EventMuxStats,
  WaitQueue,
} from "./core/event_mux.ts";
export { type Clock, MonotonicClock, VirtualClock } from "./core/clock.ts";
export { type ErrnoCode, StackError } from "./core/errors.ts";
export { StackStats } from "./stack/stats.ts";
export { type Counters } from "./core/counters.ts";
export {
  BufferPool,
  type BufferPoolStats,
  HEADROOM_BYTES,
  PacketBuffer,
  type PayloadSource,
} from "./core/packet_buffer.ts";
export { Timer, TimerWheel, type TimerWheelOptions } from "./core/timer_wheel.ts";
export { SeededRandom } from "./core/random.ts";
export { SubarrayCache } from "./core/subarray_cache.ts";
export {
  DriverStats,
  type LinkCapabilities,
  linkCapabilities,
  type LinkDriver,
  NO_OFFLOADS,
  RX_CSUM_PARTIAL,
  RX_CSUM_VALID,
  RX_GSO,
  RxBatch,
  TxOffload,
} from "./link/driver.ts";
export {
  SIM_DROP,
  SimEndpoint,
  type SimFaults,
  type SimFrameHook,
  SimWire,
  type SimWireOptions,
  SimWireStats,
} from "./link/sim_wire.ts";
export { type PcapSink, PcapWriter, type PcapWriterOptions } from "./link/pcap_writer.ts";
export { PcapDriver, type PcapDriverOptions } from "./link/pcap_driver.ts";
export { formatMac, parseMac } from "./link/ethernet.ts";
export { AfPacketDriver, type AfPacketOptions, AfPacketStats } from "./drivers/af_packet.ts";
export {
  AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES,
  AF_PACKET_RING_MIN_RX_LARGE_FRAME_BYTES,
  type AfPacketMemoryPairOptions,
  AfPacketRingDriver,
  type AfPacketRingOptions,
  AfPacketRingStats,
  type AfPacketRxRingVersion,
  type AfPacketTxKick,
  type Ipv6Words,
  type KernelRxDrop,
  type KernelRxFilterStats,
  type KernelRxOwnAddresses,
} from "./drivers/af_packet_ring.ts";
export { type XdpAttachMode, XdpRedirectProgram } from "./drivers/xdp_program.ts";
export { LoopbackDriver, type LoopbackOptions } from "./drivers/loopback.ts";
export { TapDriver, type TapOptions, TapStats } from "./drivers/tap.ts";
export {
  AfXdpDriver,
  type AfXdpOptions,
  AfXdpStats,
  type XdpKernelStats,
} from "./drivers/af_xdp.ts";
export { formatIpv4, parseIpv4, parseIpv4Cidr } from "./net/ipv4_address.ts";
export { type EchoReplyListener, type IcmpOptions, Icmpv4Layer } from "./net/icmpv4.ts";
export {
  type Ipv4ErrorReporter,
  type Ipv4InterfaceAddress,
  Ipv4Layer,
  type Ipv4Options,
} from "./net/ipv4.ts";
export { type ArpAddressOwner, ArpCache, type ArpEntryInfo, type ArpOptions } from "./net/arp.ts";
export { type ReassemblyOptions } from "./net/reassembly.ts";
export { LocalDeliveryQueue, type LocalReceiver } from "./net/local_delivery.ts";
export { TokenBucket } from "./core/token_bucket.ts";
export { type Ipv4Route, RouteResult, RouteTable } from "./net/route_table.ts";
export { type LinkEndpoint } from "./link/link_endpoint.ts";
export {
  formatIp,
  type IpAddr,
  IpAddress,
  IpAddressScratch,
  type IpCidr,
  ipEquals,
  type IpFamily,
  parseIpCidr,
  tryParseIp,
} from "./net/ip_address.ts";
export {
  type Ipv6AddressListener,
  type Ipv6Counters,
  type Ipv6ErrorReporter,
  Ipv6Layer,
  type Ipv6Options,
} from "./net/ipv6.ts";
export { Ipv6Interface, type Ipv6InterfaceOptions, type Ipv6Output } from "./net/ipv6_interface.ts";
export {
  Ipv6AddressList,
  type Ipv6AddressOptions,
  type Ipv6AddressOrigin,
  type Ipv6AddressOwner,
  type Ipv6AddressState,
  Ipv6InterfaceAddress,
} from "./net/ipv6_addresses.ts";
export {
  NdpCache,
  type NdpCacheOptions,
  type NdpCacheOwner,
  type NdpEntryInfo,
} from "./net/ndp_cache.ts";
export { MldListener, type MldOptions, type MldOwner } from "./net/mld.ts";
export {
  type DefaultRouter,
  type Ipv6RouteOrigin,
  Ipv6Routes,
  type OnLinkPrefix,
  type RouterReachability,
} from "./net/ipv6_routes.ts";
export {
  PathMtuCache,
  type PathMtuOptions,
  plateauBelow,
  PMTU_COUNTERS,
  PMTU_DEFAULT_FLOOR_V4,
  PMTU_MIN_V4,
  PMTU_MIN_V6,
} from "./net/path_mtu.ts";
export { Ipv4Network } from "./net/ipv4_network.ts";
export { IpNetworks } from "./net/ip_networks.ts";
export { type Echo6ReplyListener, Icmpv6Layer, type Icmpv6Options } from "./net/icmpv6.ts";
export { RouterDiscovery, type RouterDiscoveryOptions } from "./net/router_discovery.ts";
export {
  NetError,
  type NetProtocolHandler,
  NetRoute,
  NetRxMeta,
  type NetworkLayer,
} from "./net/network_layer.ts";
export { SyscallError } from "./ffi/errno.ts";
