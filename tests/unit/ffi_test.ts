import assert from "node:assert/strict";
import {
  AF_INET,
  close,
  cmsgSpace,
  EAGAIN,
  EBADF,
  ERRNO_MAX,
  errnoMessage,
  errnoName,
  errnoNumber,
  eventfdCreate,
  eventfdDrain,
  eventfdSignal,
  htons,
  interfaceIndex,
  interfaceMtu,
  pollAsync,
  pollBlocking,
  pollfdRevents,
  pollfds,
  POLLIN,
  pollNow,
  read,
  setPollfd,
  sizeArg,
  SOCK_DGRAM,
  sockaddrLl,
  socket,
  SyscallError,
  TPACKET_AUXDATA_SIZE,
  write,
} from "../../ffi/mod.ts";
import { formatSummary, parseSummary } from "../run.ts";

Deno.test("errno table names every number 1..133", () => {
  assert.equal(ERRNO_MAX, 133);
  const seen = new Set<string>();
  for (let n = 1; n <= 133; n++) {
    const name = errnoName(n);
    assert.match(name, /^E[0-9A-Z]+$/);
    assert.ok(!seen.has(name), `duplicate name ${name}`);
    seen.add(name);
    assert.notEqual(errnoMessage(n), "");
    if (n !== 41 && n !== 58) assert.equal(errnoNumber(name), n);
  }
  assert.equal(errnoName(1), "EPERM");
  assert.equal(errnoName(11), "EAGAIN");
  assert.equal(errnoName(13), "EACCES");
  assert.equal(errnoName(22), "EINVAL");
  assert.equal(errnoName(97), "EAFNOSUPPORT");
  assert.equal(errnoName(105), "ENOBUFS");
  assert.equal(errnoName(111), "ECONNREFUSED");
  assert.equal(errnoName(133), "EHWPOISON");
  assert.equal(errnoName(41), "E41");
  assert.equal(errnoName(4095), "E4095");
  assert.equal(errnoMessage(4095), "Unknown error 4095");
  assert.equal(errnoNumber("EWOULDBLOCK"), 11);
  assert.equal(errnoNumber("ENOTSUP"), 95);
  assert.equal(errnoNumber("ENOPE"), undefined);
});

Deno.test("SyscallError carries errno, code, syscall and a readable message", () => {
  const e = new SyscallError("socket", 1);
  assert.ok(e instanceof Error);
  assert.equal(e.name, "SyscallError");
  assert.equal(e.errno, 1);
  assert.equal(e.code, "EPERM");
  assert.equal(e.syscall, "socket");
  assert.equal(e.message, "socket: EPERM (Operation not permitted)");
  const d = new SyscallError("bind", 98, "port 80");
  assert.equal(d.message, "bind: EADDRINUSE (Address already in use): port 80");
});

Deno.test("struct helpers", () => {
  assert.equal(htons(0x0003), 0x0300);
  assert.equal(htons(0x86dd), 0xdd86);
  assert.equal(cmsgSpace(TPACKET_AUXDATA_SIZE), 40);
  const sll = sockaddrLl(7);
  assert.equal(sll.length, 20);
  assert.deepEqual([...sll.subarray(0, 8)], [17, 0, 0x00, 0x03, 7, 0, 0, 0]);
  const fds = pollfds(2);
  setPollfd(fds, 1, 0x01020304, POLLIN);
  assert.deepEqual([...fds.subarray(8, 16)], [4, 3, 2, 1, 1, 0, 0, 0]);
  assert.equal(sizeArg(1500), 1500n);
  assert.equal(sizeArg(1500), sizeArg(1500));
  assert.equal(sizeArg(100_000), 100_000n);
});

Deno.test("a failing set-up call throws SyscallError with the errno name", () => {
  assert.throws(() => socket(9999, SOCK_DGRAM, 0), (e: unknown) => {
    assert.ok(e instanceof SyscallError);
    assert.equal(e.code, "EAFNOSUPPORT");
    assert.equal(e.syscall, "socket");
    return true;
  });
  assert.throws(() => interfaceIndex("nonexistent0"), (e: unknown) => {
    assert.ok(e instanceof SyscallError);
    assert.equal(e.code, "ENODEV");
    return true;
  });
  assert.throws(() => interfaceIndex("a-name-longer-than-ifnamsiz"));
});

Deno.test("loopback interface look-ups", () => {
  assert.equal(interfaceIndex("lo"), 1);
  const fd = socket(AF_INET, SOCK_DGRAM, 0);
  try {
    assert.ok(interfaceMtu(fd, "lo") >= 1500);
  } finally {
    close(fd);
  }
});

Deno.test("hot-path calls return -errno instead of throwing", () => {
  const buf = new Uint8Array(8);
  assert.equal(read(-1, buf, 8), -EBADF);
  assert.equal(write(-1, buf, 8), -EBADF);
  const fd = eventfdCreate();
  try {
    assert.equal(read(fd, buf, 8), -EAGAIN);
  } finally {
    close(fd);
  }
});

Deno.test("eventfd create/signal/drain", () => {
  const fd = eventfdCreate();
  try {
    assert.ok(fd >= 0);
    assert.equal(eventfdDrain(fd), 0);
    assert.equal(eventfdSignal(fd), 0);
    assert.equal(eventfdSignal(fd), 0);
    assert.equal(eventfdSignal(fd), 0);
    assert.equal(eventfdDrain(fd), 3);
    assert.equal(eventfdDrain(fd), 0);
    assert.equal(eventfdDrain(-1), -EBADF);
  } finally {
    close(fd);
  }
  assert.throws(() => close(fd), (e: unknown) => e instanceof SyscallError && e.code === "EBADF");
});

Deno.test("poll with timeout 0 sees an eventfd become readable", () => {
  const fd = eventfdCreate();
  const fds = pollfds(1);
  setPollfd(fds, 0, fd, POLLIN);
  try {
    assert.equal(pollNow(fds), 0);
    assert.equal(pollfdRevents(fds, 0), 0);
    eventfdSignal(fd);
    assert.equal(pollNow(fds), 1);
    assert.equal(pollfdRevents(fds, 0) & POLLIN, POLLIN);
    eventfdDrain(fd);
    assert.equal(pollNow(fds), 0);
  } finally {
    close(fd);
  }
});

Deno.test("pollAsync times out, and wakes when the eventfd is signalled", async () => {
  const fd = eventfdCreate();
  const fds = pollfds(1);
  setPollfd(fds, 0, fd, POLLIN);
  try {
    const t0 = performance.now();
    assert.equal(await pollAsync(fds, 20), 0);
    assert.ok(performance.now() - t0 >= 15);

    const t1 = performance.now();
    const woke = pollAsync(fds, 10_000);
    const timer = setTimeout(() => eventfdSignal(fd), 30);
    try {
      assert.equal(await woke, 1);
    } finally {
      clearTimeout(timer);
    }
    assert.ok(performance.now() - t1 < 5_000, "pollAsync should wake on the signal");
    assert.equal(pollfdRevents(fds, 0) & POLLIN, POLLIN);
    assert.equal(eventfdDrain(fd), 1);
  } finally {
    close(fd);
  }
});

Deno.test("pollBlocking honours sub-millisecond timeouts and sees a ready fd at once", () => {
  const fd = eventfdCreate();
  const fds = pollfds(1);
  setPollfd(fds, 0, fd, POLLIN);
  try {
    // 0.3 ms slices: never shorter than asked; the shortest of a few well under the whole
    // millisecond poll(2)'s int timeout would have waited (a scheduler delay on a busy machine
    // can stretch one slice, not all of them).
    let shortest = Infinity;
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      assert.equal(pollBlocking(fds, 0.3), 0);
      const took = performance.now() - t0;
      assert.ok(took >= 0.29, `a 0.3 ms slice returned after ${took} ms`);
      if (took < shortest) shortest = took;
    }
    assert.ok(shortest < 0.9, `the shortest 0.3 ms slice took ${shortest} ms`);
    eventfdSignal(fd);
    assert.equal(pollBlocking(fds, 10), 1);
    assert.equal(pollfdRevents(fds, 0) & POLLIN, POLLIN);
    assert.equal(eventfdDrain(fd), 1);
  } finally {
    close(fd);
  }
});

// tests/run.ts is part of the same tooling layer; its parser is checked here.
Deno.test("the test runner parses deno test summaries", () => {
  assert.deepEqual(
    parseSummary("x\n\x1b[0m\x1b[32mok\x1b[0m | 2 passed (2 steps) | 0 failed | 1 ignored (9ms)\n"),
    { passed: 2, failed: 0, ignored: 1 },
  );
  assert.deepEqual(
    parseSummary("FAILED | 2 passed (2 steps) | 2 failed (1 step) | 1 ignored (336ms)\n\nerror: x"),
    { passed: 2, failed: 2, ignored: 1 },
  );
  assert.deepEqual(parseSummary("ok | 1 passed | 0 failed | 2 filtered out (9ms)"), {
    passed: 1,
    failed: 0,
    ignored: 0,
  });
  assert.equal(parseSummary("error: Module not found"), null);
  assert.equal(
    formatSummary({ passed: 12, failed: 0, ignored: 2 }),
    "tests: 12 passed, 0 failed, 2 skipped",
  );
  assert.equal(formatSummary({ passed: 3, failed: 1, ignored: 0 }), "tests: 3 passed, 1 failed");
});
