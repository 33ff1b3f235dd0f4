/**
 * The af_packet driver's kernel RX program follows the stack's addresses: every IPv4 address
 * and every IPv6 address that is not a duplicate (configured, link-local, SLAAC — tentative
 * ones too: the kernel has no use for their frames either) on the stack's NIC, handed to
 * `AfPacketRingDriver.setKernelRxDropTo` once when the runtime starts and once per burst of
 * changes after it (an address added, found duplicate or removed — `removeAddress` of either
 * family, an IPv6 address expiring): the changes of one tick are gathered and the set handed
 * over in a microtask, so a burst loads one program, and the loop never loads one per frame.
 *
 * The kernel's own address changes are followed as well (the program must never keep the
 * kernel off an address it holds itself): a timer of the stack reads the kernel's
 * interface-address notifications every {@link KERNEL_ADDRESS_CHECK_MS}
 * (`AfPacketRingDriver.checkKernelAddresses`), and an address of the stack's set the kernel
 * gained or gave up reloads the program. A timer, not the loop's poll set: a busy loop reads its
 * rings and never polls, so the notifications would wait for the loop to go idle; and no
 * per-tick cost — with nothing pending one check is one `recvfrom` that says `EAGAIN`, twice a
 * second. The lag is at most that period: shorter than the kernel's own duplicate address
 * detection (≥ 1 s) before a new IPv6 address of its own is used.
 *
 * @module
 */

import type { AfPacketRingDriver, Ipv6Words } from "../drivers/af_packet_ring.ts";
import { Timer } from "../core/timer_wheel.ts";
import type { Stack } from "./stack.ts";

/** How often the kernel's address notifications are read (ms). */
export const KERNEL_ADDRESS_CHECK_MS = 500;

/**
 * Keep `driver`'s kernel RX program in step with the addresses of `stack`'s NIC `nicIndex`
 * and with the kernel's own (checked every {@link KERNEL_ADDRESS_CHECK_MS}) from now on; hands
 * the current set over at once. Returns the function that hands it over
 * again (for a caller that changed addresses in a way no listener hears).
 *
 * @example
 * ```ts ignore
 * followKernelRxDrop(stack, nic.index, driver);
 * stack.ipv4.addAddress(nic.index, 0xc6120003, 24); // the program gets 198.18.0.3 too
 * stack.ipv4.removeAddress(nic.index, 0xc6120003); // and loses it again: the kernel gets its frames
 * ```
 */
export function followKernelRxDrop(
  stack: Stack,
  nicIndex: number,
  driver: AfPacketRingDriver,
): () => void {
  const sync = () => {
    const v4 = stack.ipv4.addresses().filter((a) => a.nicIndex === nicIndex).map((a) => a.addr);
    const v6: Ipv6Words[] = stack.ipv6.iface(nicIndex).addresses.list()
      .filter((a) => a.state !== "duplicate")
      .map((a) => [a.addr.w0, a.addr.w1, a.addr.w2, a.addr.w3]);
    driver.setKernelRxDropTo({ v4, v6 });
  };
  let pending = false;
  const later = () => {
    if (pending) return;
    pending = true;
    queueMicrotask(() => {
      pending = false;
      sync();
    });
  };
  stack.ipv4.addAddressListener((_addr, nic) => {
    if (nic === nicIndex) later();
  });
  // Any change (a state change too: the set is compared with the program's before a load).
  stack.ipv6.addAddressListener((a) => {
    if (a.nicIndex === nicIndex) later();
  });
  // The kernel's changes: read at a low fixed rate from the stack's timers (never per tick).
  const check: Timer = new Timer(() => {
    if (stack.closed) return;
    driver.checkKernelAddresses();
    stack.timers.schedule(check, stack.clock.nowMs() + KERNEL_ADDRESS_CHECK_MS);
  });
  stack.timers.schedule(check, stack.clock.nowMs() + KERNEL_ADDRESS_CHECK_MS);
  sync();
  return sync;
}
