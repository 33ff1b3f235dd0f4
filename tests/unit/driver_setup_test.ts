// The pieces every driver's open and transmit share, without a kernel: the resource stack
// (cleanup order, errors), the capability hint, option and bounds checks.

import assert from "node:assert/strict";
import { type AfPacketRingOptions, packetRingSizes } from "../../drivers/af_packet_ring_setup.ts";
import { ResourceStack } from "../../drivers/resource_stack.ts";
import { openOnInterface, withCapabilityHint } from "../../drivers/interface_open.ts";
import {
  asksOffload,
  intOption,
  rxWant,
  slotViews,
  txFrameInBounds,
} from "../../drivers/driver_util.ts";
import { EACCES, EINVAL, EPERM, SyscallError } from "../../ffi/errno.ts";
import { GSO_TCPV4, RxBatch, TxOffload } from "../../link/driver.ts";

Deno.test("resource stack: releases last-first, every one attempted, the first error thrown", () => {
  const res = new ResourceStack();
  const order: string[] = [];
  res.defer(() => order.push("socket"));
  res.defer(() => {
    order.push("ring");
    throw new Error("munmap failed");
  });
  res.defer(() => {
    order.push("program");
    throw new Error("detach failed");
  });
  assert.equal(res.size, 3);
  assert.throws(() => res.close(), /detach failed/);
  assert.deepEqual(order, ["program", "ring", "socket"]);
  assert.equal(res.size, 0);
  res.close(); // nothing left: releases run once
  assert.deepEqual(order, ["program", "ring", "socket"]);
});

Deno.test("resource stack: unwind swallows errors; a mark keeps what came before it", () => {
  const res = new ResourceStack();
  const order: string[] = [];
  res.defer(() => order.push("umem"));
  const mark = res.size;
  res.defer(() => order.push("zero-copy socket"));
  res.defer(() => {
    throw new Error("ignored");
  });
  res.unwind(mark);
  assert.deepEqual(order, ["zero-copy socket"]);
  assert.equal(res.size, 1);
  res.defer(() => order.push("copy-mode socket"));
  res.close();
  assert.deepEqual(order, ["zero-copy socket", "copy-mode socket", "umem"]);
});

Deno.test("openOnInterface: a failed set-up is unwound and EPERM names the capability", () => {
  const released: string[] = [];
  assert.throws(
    () =>
      openOnInterface({ driver: "TestDriver", capabilities: "needs CAP_TEST" }, (res) => {
        res.defer(() => released.push("fd"));
        throw new SyscallError("ioctl", EPERM, "TUNSETIFF");
      }),
    (e: unknown) =>
      e instanceof SyscallError && e.code === "EPERM" && e.syscall === "ioctl" &&
      e.message === "ioctl: EPERM (Operation not permitted): TUNSETIFF; needs CAP_TEST",
  );
  assert.deepEqual(released, ["fd"]);
  // A successful set-up keeps its resources: they belong to the driver now.
  const kept = openOnInterface({ driver: "TestDriver", capabilities: "x" }, (res) => {
    res.defer(() => released.push("kept"));
    return res;
  });
  assert.equal(kept.size, 1);
  assert.deepEqual(released, ["fd"]);
});

Deno.test("openOnInterface: the MTU option is checked before anything is opened", () => {
  let ran = false;
  for (const mtu of [67, 1500.5, -1, NaN]) {
    assert.throws(
      () => openOnInterface({ driver: "TestDriver", mtu, capabilities: "x" }, () => ran = true),
      new RegExp(`^RangeError: TestDriver: mtu must be an integer >= 68, got ${mtu}$`),
    );
  }
  assert.equal(ran, false);
});

Deno.test("withCapabilityHint: only EPERM and EACCES get the hint", () => {
  const bare = withCapabilityHint(new SyscallError("socket", EACCES), "needs CAP_NET_RAW");
  assert.ok(bare instanceof SyscallError);
  assert.equal(bare.message, "socket: EACCES (Permission denied): needs CAP_NET_RAW");
  const other = new SyscallError("bind", EINVAL);
  assert.equal(withCapabilityHint(other, "needs CAP_NET_RAW"), other);
  const notSyscall = new RangeError("x");
  assert.equal(withCapabilityHint(notSyscall, "needs CAP_NET_RAW"), notSyscall);
});

Deno.test("intOption: fallback, bounds and the message", () => {
  assert.equal(intOption("D", "rxBatch", undefined, 64, 1, 1024), 64);
  assert.equal(intOption("D", "rxBatch", 1, 64, 1, 1024), 1);
  assert.equal(intOption("D", "rxBatch", 1024, 64, 1, 1024), 1024);
  assert.throws(
    () => intOption("D", "rxBatch", 0, 64, 1, 1024),
    /^RangeError: D: rxBatch must be 1..1024, got 0$/,
  );
  assert.throws(() => intOption("D", "rxBatch", 1025, 64, 1, 1024), RangeError);
  assert.throws(() => intOption("D", "rxBatch", 2.5, 64, 1, 1024), RangeError);
});

Deno.test("txFrameInBounds: an Ethernet header at least, inside the buffer", () => {
  const buf = new Uint8Array(100);
  assert.equal(txFrameInBounds(buf, 0, 14), true);
  assert.equal(txFrameInBounds(buf, 86, 14), true);
  assert.equal(txFrameInBounds(buf, 0, 13), false);
  assert.equal(txFrameInBounds(buf, 87, 14), false);
  assert.equal(txFrameInBounds(buf, -1, 20), false);
  assert.equal(txFrameInBounds(buf, 0, 101), false);
});

Deno.test("asksOffload, rxWant, slotViews", () => {
  const off = new TxOffload();
  assert.equal(asksOffload(null), false);
  assert.equal(asksOffload(off), false);
  off.needsCsum = true;
  assert.equal(asksOffload(off), true);
  off.clear();
  off.gsoType = GSO_TCPV4;
  assert.equal(asksOffload(off), true);

  const batch = new RxBatch(32);
  assert.equal(rxWant(batch, 64, 1000), 32);
  assert.equal(rxWant(batch, 8, 1000), 8);
  assert.equal(rxWant(batch, 64, 16), 16);

  const views = slotViews(3, 100);
  assert.equal(views.length, 3);
  assert.equal(views[2].byteOffset, 200);
  assert.equal(views[2].length, 100);
  assert.equal(views[0].buffer, views[2].buffer);
});

Deno.test("af_packet ring options: txKick is checked, and sync on one CPU", () => {
  const sizes = (o: Partial<AfPacketRingOptions>) => packetRingSizes({ ifname: "us0", ...o });
  const many = navigator.hardwareConcurrency > 1;
  assert.equal(sizes({}).txKick, many ? "auto" : "sync");
  assert.equal(sizes({ txKick: "sync" }).txKick, "sync");
  assert.equal(sizes({}).txKickThreadBytes, 48 * 1024);
  assert.equal(
    sizes({ txKick: "thread" }).txKick,
    many ? "thread" : "sync",
  );
  assert.throws(() => sizes({ txKick: "later" as "sync" }), RangeError);
  assert.throws(() => sizes({ txKickSpinUs: -1 }), RangeError);
});
