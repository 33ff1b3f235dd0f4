/**
 * A kernel TCP echo server for interop tests, and the client half that pushes data through it.
 *
 * @module
 */

/**
 * Python: a kernel TCP echo server for one connection (port in argv[1]); half-closes after EOF.
 * A plain echo loop: socat's PIPE can block writing into its own full pipe (it is the pipe's
 * only reader) and then stops reading the socket, a deadlock of the tool, not of TCP.
 */
export const ECHO_ONCE = `
import socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", int(sys.argv[1])))
ls.listen(1)
c, _ = ls.accept()
while True:
    d = c.recv(65536)
    if not d:
        break
    c.sendall(d)
c.shutdown(socket.SHUT_WR)
c.close()
`;

/** The part of a stack connection {@link echoThrough} uses. */
export interface EchoConn {
  read(buf: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<unknown>;
  closeWrite(): Promise<void>;
}

/** Write `data` to `conn`, half-close, and return everything read back until EOF. */
export async function echoThrough(conn: EchoConn, data: Uint8Array): Promise<Uint8Array> {
  const reader = (async () => {
    const got = new Uint8Array(data.length + 65536);
    let n = 0;
    const buf = new Uint8Array(65536);
    for (;;) {
      const k = await conn.read(buf);
      if (k === null) break;
      if (n + k > got.length) throw new Error(`echo: more than ${data.length} bytes came back`);
      got.set(buf.subarray(0, k), n);
      n += k;
    }
    return got.subarray(0, n);
  })();
  await conn.write(data);
  await conn.closeWrite();
  return await reader;
}
