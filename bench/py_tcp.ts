/**
 * The kernel-socket TCP ends the bulk benches run on the kernel side (`bench:cc`,
 * `bench/rx_ab.ts`): small Python programs passed to `python3 -c`, so the kernel's own TCP is
 * measured without a Deno runtime in its way.
 *
 * @module
 */

/**
 * Python TCP sender: `HOST PORT SECONDS [CC [WRITE]]`. It sends for SECONDS in `send` calls of
 * WRITE bytes (default 131,072, iperf3's default), half-closes and waits for the peer to close,
 * so its time runs until the sink had everything. CC, when not empty, is set on the socket
 * (`TCP_CONGESTION`), whatever the host's default. Prints one JSON line:
 * `{"bytes":…,"seconds":…,"cc":"cubic"}` (the algorithm the socket used).
 */
export const PY_TCP_SENDER = `
import json, socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
cc = sys.argv[4] if len(sys.argv) > 4 else ""
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
if cc:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
s.connect((host, port))
b = memoryview(bytes(int(sys.argv[5]) if len(sys.argv) > 5 else 128 * 1024))
sent = 0
start = time.monotonic()
end = start + seconds
now = start
while now < end:
    for _ in range(16):
        sent += s.send(b)
    now = time.monotonic()
s.shutdown(socket.SHUT_WR)
s.settimeout(60)
s.recv(1)
now = time.monotonic()
cc_used = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).split(b"\\0")[0].decode()
print(json.dumps({"bytes": sent, "seconds": now - start, "cc": cc_used}), flush=True)
`;

/**
 * Python TCP sink: `PORT [STREAMS]`. Prints `ready` once listening, accepts STREAMS connections
 * (default 1), reads each to its end, closes them, and prints `{"bytes":…,"seconds":…,
 * "reads":…,"nvcsw":…,"nivcsw":…,"cpuSeconds":…}` — bytes summed over the connections, seconds
 * from the first accept to the last byte; its `recv` calls that returned data, its voluntary
 * and involuntary context switches and its CPU time over the whole run: how often it slept
 * waiting for data, and how busy it was — softirq work that ran in its context included. One
 * connection is read with blocking `recv_into` calls; several, once all are accepted, from one
 * thread through a `selectors` loop (a connection that sends nothing for 60 s ends the run).
 */
export const PY_TCP_SINK = `
import json, resource, selectors, socket, sys, time
port = int(sys.argv[1])
streams = int(sys.argv[2]) if len(sys.argv) > 2 else 1
buf = bytearray(1 << 20)
total = 0
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(streams)
print("ready", flush=True)
ls.settimeout(60)
c, _ = ls.accept()
c.settimeout(60)
first = time.monotonic()
last = first
reads = 0
if streams == 1:
    while True:
        n = c.recv_into(buf)
        if n == 0:
            break
        total += n
        reads += 1
        last = time.monotonic()
    c.close()
else:
    sel = selectors.DefaultSelector()
    conns = [c] + [ls.accept()[0] for _ in range(streams - 1)]
    for c in conns:
        c.setblocking(False)
        sel.register(c, selectors.EVENT_READ)
    left = streams
    while left > 0:
        ready = sel.select(60)
        if not ready:
            sys.exit("sink: no data for 60 s")
        for key, _ in ready:
            try:
                n = key.fileobj.recv_into(buf)
            except BlockingIOError:
                continue
            if n == 0:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                left -= 1
                continue
            total += n
            reads += 1
            last = time.monotonic()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"bytes": total, "seconds": last - first, "reads": reads,
                  "nvcsw": ru.ru_nvcsw, "nivcsw": ru.ru_nivcsw,
                  "cpuSeconds": ru.ru_utime + ru.ru_stime}), flush=True)
`;
