/**
 * TCP (RFC 9293): the protocol layer, connections, listeners and their public types.
 *
 * Where things are: `tcp_layer.ts` parses and demultiplexes segments, `listener.ts` takes
 * SYNs, `handshake.ts` runs the three-way handshake, `input.ts` the checks of RFC 9293
 * §3.10.7.4; a connection (`endpoint.ts`) holds its send side (`sender.ts`: SND.*, ACK
 * processing, output, retransmission), its receive side (`receiver.ts`: RCV.*, reassembly,
 * ACK generation, window) and `keepalive.ts`; `state.ts` is the state diagram, `transmit.ts`
 * the one way out for every segment; wire formats in `header.ts` and `options.ts`.
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
