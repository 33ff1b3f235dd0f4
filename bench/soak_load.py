"""Mixed load for bench:soak (bench/soak.ts), run in the kernel peer's namespace.

Threads, each for the whole run, every one checking what comes back byte for byte:
  download   GET /bytes/N over HTTP/1.1 (keep-alive), SHA-256 against the pattern
  echo       20 MB of random bytes through the TCP echo port, compared as they return
  upload     20 MB into the discard port, closed, repeated
  connect    new connections at a set rate: GET /bytes/64, Connection: close
  udp        datagrams of 1..8000 bytes to the UDP echo port, each checked
  hostile    malformed frames from an AF_PACKET socket (truncations, bad checksums, lone
             first fragments, bad TCP options, runts, unknown EtherTypes)

Prints one JSON line of counters every `--report` seconds and a final one with "final": true.
Usage: python3 soak_load.py --addr A --iface IF --mac STACK_MAC --seconds S [--conn-rate R]
"""

import argparse
import hashlib
import json
import os
import random
import socket
import struct
import sys
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("--addr", required=True)
p.add_argument("--iface", required=True)
p.add_argument("--mac", required=True)
p.add_argument("--seconds", type=float, required=True)
p.add_argument("--http-port", type=int, default=80)
p.add_argument("--echo-port", type=int, default=7)
p.add_argument("--discard-port", type=int, default=9)
p.add_argument("--conn-rate", type=float, default=300)
p.add_argument("--udp-rate", type=float, default=200)
p.add_argument("--hostile-rate", type=float, default=200)
p.add_argument("--bulk-bytes", type=int, default=20_000_000)
p.add_argument("--report", type=float, default=10)
args = p.parse_args()

END = time.monotonic() + args.seconds
lock = threading.Lock()
c = {
    "download_bytes": 0, "download_ok": 0, "download_bad": 0,
    "echo_bytes": 0, "echo_ok": 0, "echo_bad": 0,
    "upload_bytes": 0, "upload_ok": 0, "upload_bad": 0,
    "conn_ok": 0, "conn_failed": 0, "conn_bad": 0,
    "udp_sent": 0, "udp_ok": 0, "udp_lost": 0, "udp_bad": 0,
    "hostile_sent": 0, "threads_died": 0, "errors": [],
}


def add(**kw):
    with lock:
        for k, v in kw.items():
            c[k] += v


def error(where, e):
    with lock:
        c["errors"].append(f"{where}: {e!r}"[:300])
        del c["errors"][:-20]


PATTERN = bytes(i % 251 for i in range(251 * 4096))


def pattern_sha(n):
    h = hashlib.sha256()
    while n > 0:
        k = min(n, len(PATTERN))
        h.update(PATTERN[:k])
        n -= k
    return h.hexdigest()


def read_response(f):
    """Status, headers and body of one HTTP/1.1 response from buffered reader f."""
    status = f.readline()
    if not status:
        raise EOFError("connection closed before a response")
    length = None
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    if length is None:
        raise ValueError(f"no Content-Length: {status!r}")
    h = hashlib.sha256()
    left = length
    while left > 0:
        chunk = f.read(min(left, 1 << 20))
        if not chunk:
            raise EOFError("body cut short")
        h.update(chunk)
        left -= len(chunk)
    return status, length, h.hexdigest()


def download():
    n = args.bulk_bytes
    want = pattern_sha(n)
    while time.monotonic() < END:
        try:
            with socket.create_connection((args.addr, args.http_port), timeout=30) as s:
                f = s.makefile("rb")
                while time.monotonic() < END:
                    s.sendall(f"GET /bytes/{n} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
                    status, length, sha = read_response(f)
                    ok = status.startswith(b"HTTP/1.1 200") and length == n and sha == want
                    add(download_bytes=length, download_ok=int(ok), download_bad=int(not ok))
        except Exception as e:  # noqa: BLE001 - counted and reported
            add(download_bad=1)
            error("download", e)
            time.sleep(0.5)


def echo():
    n = args.bulk_bytes
    while time.monotonic() < END:
        data = os.urandom(n)
        try:
            with socket.create_connection((args.addr, args.echo_port), timeout=30) as s:
                back = bytearray()

                def reader():
                    while True:
                        b = s.recv(1 << 20)
                        if not b:
                            return
                        back.extend(b)

                t = threading.Thread(target=reader)
                t.start()
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                t.join(60)
                ok = bytes(back) == data
                add(echo_bytes=len(back), echo_ok=int(ok), echo_bad=int(not ok))
        except Exception as e:  # noqa: BLE001
            add(echo_bad=1)
            error("echo", e)
            time.sleep(0.5)


def upload():
    n = args.bulk_bytes
    block = os.urandom(1 << 20)
    while time.monotonic() < END:
        try:
            with socket.create_connection((args.addr, args.discard_port), timeout=30) as s:
                left = n
                while left > 0:
                    k = min(left, len(block))
                    s.sendall(block[:k])
                    left -= k
                s.shutdown(socket.SHUT_WR)
                # The discard service closes after our FIN: EOF proves it read everything.
                ok = s.recv(1) == b""
                add(upload_bytes=n, upload_ok=int(ok), upload_bad=int(not ok))
        except Exception as e:  # noqa: BLE001
            add(upload_bad=1)
            error("upload", e)
            time.sleep(0.5)


def connect(rate):
    want = pattern_sha(64)
    gap = 1.0 / rate
    nxt = time.monotonic()
    while time.monotonic() < END:
        nxt += gap
        try:
            with socket.create_connection((args.addr, args.http_port), timeout=10) as s:
                s.sendall(b"GET /bytes/64 HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
                status, length, sha = read_response(s.makefile("rb"))
                ok = status.startswith(b"HTTP/1.1 200") and sha == want
                add(conn_ok=int(ok), conn_bad=int(not ok))
        except Exception as e:  # noqa: BLE001
            add(conn_failed=1)
            error("connect", e)
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)
        elif d < -1:
            nxt = time.monotonic()  # fell behind: do not burst to catch up


def udp():
    sizes = [1, 64, 512, 1232, 1472, 3000, 8000]
    gap = 1.0 / args.udp_rate
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((args.addr, args.echo_port))
    s.settimeout(1.0)
    i = 0
    while time.monotonic() < END:
        size = sizes[i % len(sizes)]
        payload = struct.pack("!I", i) + os.urandom(max(0, size - 4))
        payload = payload[:size]
        i += 1
        try:
            s.send(payload)
            add(udp_sent=1)
            while True:
                back = s.recv(65536)
                if size < 4 or back[:4] == payload[:4]:
                    break  # older echoes (after a timeout) are skipped
            ok = back == payload
            add(udp_ok=int(ok), udp_bad=int(not ok))
        except socket.timeout:
            add(udp_lost=1)
        except Exception as e:  # noqa: BLE001
            add(udp_lost=1)
            error("udp", e)
            time.sleep(0.2)
        time.sleep(gap)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def hostile():
    """Malformed frames, never valid enough to start a connection or be answered."""
    mac = bytes.fromhex(args.mac.replace(":", ""))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((args.iface, 0))
    src_mac = s.getsockname()[4]
    src = socket.inet_aton("198.18.0.77")  # a source on the link nobody owns
    dst = socket.inet_aton(args.addr)
    rnd = random.Random(7)
    gap = 1.0 / args.hostile_rate

    def ip(proto, payload, flags_frag=0, ihl_opts=b"", ident=0, total=None, ttl=64):
        ihl = 5 + len(ihl_opts) // 4
        tl = total if total is not None else 4 * ihl + len(payload)
        h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tl, ident, flags_frag, ttl, proto, 0,
                        src, dst) + ihl_opts
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
        return h + payload

    def tcp(opts=b"", flags=0x02, bad_sum=False):
        off = (20 + len(opts)) // 4
        h = struct.pack("!HHIIBBHHH", rnd.randrange(1024, 65535), args.http_port,
                        rnd.getrandbits(32), 0, off << 4, flags, 65535, 0, 0) + opts
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(h))
        ck = csum(pseudo + h) ^ (0x5555 if bad_sum else 0)
        return h[:16] + struct.pack("!H", ck) + h[18:]

    kinds = [
        lambda: ip(17, os.urandom(30))[: rnd.randrange(14, 34)],  # truncated IPv4/UDP
        lambda: ip(6, tcp(bad_sum=True)),  # SYN with a bad checksum
        lambda: ip(6, tcp(opts=bytes([2, 1, 0, 0]) + b"\x08\x03\x01\x00")),  # bad MSS length, stray option
        lambda: ip(6, tcp(opts=bytes([5, 9]) + os.urandom(2) + b"\x00" * 4, flags=0x10)),  # bad SACK len, stray ACK
        lambda: ip(17, os.urandom(600), flags_frag=0x2000, ident=rnd.getrandbits(16)),  # lone first fragment
        lambda: ip(17, os.urandom(200), flags_frag=rnd.randrange(1, 8000), ident=rnd.getrandbits(16)),
        lambda: ip(6, tcp(), total=2000),  # total length beyond the frame
        lambda: ip(17, b"", ihl_opts=b"\x44\x02\x00\x00"),  # bad timestamp option
        lambda: ip(253, os.urandom(40)),  # unknown protocol
        lambda: os.urandom(rnd.randrange(1, 60)),  # garbage
    ]
    while time.monotonic() < END:
        k = kinds[rnd.randrange(len(kinds))]
        body = k()
        ethertype = 0x0800 if rnd.random() < 0.95 else rnd.choice([0x86DD, 0x0806, 0x1234])
        frame = mac + src_mac + struct.pack("!H", ethertype) + body
        try:
            s.send(frame)
            add(hostile_sent=1)
        except OSError as e:
            error("hostile", e)
        time.sleep(gap)


def guarded(fn, *a):
    """Run one load thread; a bug in it is counted, never a silent end of that load."""
    try:
        fn(*a)
    except Exception as e:  # noqa: BLE001
        add(threads_died=1)
        error(f"{fn.__name__} thread died", e)


threads = [threading.Thread(target=guarded, args=(f,), daemon=True)
           for f in (download, echo, upload, udp, hostile)]
per = max(1.0, args.conn_rate / 4)
threads += [threading.Thread(target=guarded, args=(connect, per), daemon=True) for _ in range(4)]
for t in threads:
    t.start()
t0 = time.monotonic()
while time.monotonic() < END:
    time.sleep(min(args.report, max(0.0, END - time.monotonic())))
    with lock:
        print(json.dumps({"t": round(time.monotonic() - t0, 1), **c}), flush=True)
for t in threads:
    t.join(90)
with lock:
    c["stuck_threads"] = sum(t.is_alive() for t in threads)
    print(json.dumps({"t": round(time.monotonic() - t0, 1), "final": True, **c}), flush=True)
