/**
 * `@ustack/ustack/node`: `node:net`-style sockets over ustack, for npm libraries that speak
 * through a socket or take a socket factory. Every entry point names the stack it uses:
 *
 * ```ts ignore
 * import { Runtime } from "@ustack/ustack";
 * import { connect, createServer, Socket } from "@ustack/ustack/node";
 *
 * await using rt = await Runtime.start({ if: "us0", addr: "198.18.0.2/24" });
 * const server = createServer({ runtime: rt }, (socket) => socket.pipe(socket)).listen(7);
 * const client = connect({ port: 6379, host: "198.18.0.1", runtime: rt });
 * const unconnected = new Socket({ runtime: rt }); // connect(port, host) later, as node:net
 * ```
 *
 * @module
 */

export {
  type AddressInfo,
  connect,
  type ConnectArgs,
  createConnection,
  type NetConnectOptions,
  type NodeNetError,
  Socket,
  type SocketConnectOptions,
  type SocketOptions,
} from "./stack/node_net.ts";
export {
  createServer,
  type ListenOptions,
  Server,
  type ServerOptions,
} from "./stack/node_net_server.ts";
export { isIP, isIPv4, isIPv6 } from "./stack/host_address.ts";
