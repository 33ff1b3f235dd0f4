/**
 * Run code inside a named network namespace (one made by `ip netns add NAME`), in-process.
 *
 * `setns(2)` moves only the calling thread. Deno runs JavaScript and synchronous FFI calls on
 * one thread, so sockets created by a synchronous callback are created in the namespace, and
 * they stay there after the thread moves back: that is how a test opens a driver on an
 * interface that lives in another namespace.
 *
 * @module
 */

import { CLONE_NEWNET, O_CLOEXEC, O_RDONLY } from "./constants.ts";
import { close, open, setns } from "./syscalls.ts";

/** Where `ip netns` keeps its named namespaces. */
export const NETNS_RUN_DIR = "/var/run/netns";

/** The calling thread's current network namespace. */
const CURRENT_NETNS = "/proc/thread-self/ns/net";

/**
 * Run `fn` synchronously inside network namespace `name`, then move back, always (also when
 * `fn` throws). Needs CAP_SYS_ADMIN. `fn` must not be async: only its synchronous part would
 * run inside the namespace.
 *
 * @example
 * ```ts
 * const driver = withNetns("ustk-1-s", () => AfPacketDriver.open({ ifname: "us0" }));
 * ```
 */
export function withNetns<T>(name: string, fn: () => T): T {
  if (name.length === 0 || name.includes("/") || name === "." || name === "..") {
    throw new RangeError(`withNetns: invalid namespace name "${name}"`);
  }
  const saved = open(CURRENT_NETNS, O_RDONLY | O_CLOEXEC);
  let target = -1;
  try {
    target = open(`${NETNS_RUN_DIR}/${name}`, O_RDONLY | O_CLOEXEC);
    setns(target, CLONE_NEWNET);
    try {
      return fn();
    } finally {
      // Going back must not fail silently: a thread stranded in the wrong namespace would
      // create every later socket there.
      setns(saved, CLONE_NEWNET);
    }
  } finally {
    if (target >= 0) close(target);
    close(saved);
  }
}
