/**
 * TCP (RFC 9293): the protocol layer, connections, listeners and their public types.
 *
 * @example
 * ```ts ignore
 * import { TcpLayer } from "./mod.ts";
 * const tcp = new TcpLayer(stack);
 * const listener = tcp.listen(0, 80, 128);
 * ```
 *
 * @module
 */

export {
  type ResolvedTcpOptions,
  TcpLayer,
  type TcpOptions,
  type TransportContext,
} from "./tcp_layer.ts";
export { TcpEndpoint } from "./endpoint.ts";
export { TcpListener } from "./listener.ts";
export { isSynchronized, TcpState, tcpStateName } from "./state.ts";
export type { TcpInfo } from "./tcp_info.ts";
export { RxSegment } from "./segment.ts";
