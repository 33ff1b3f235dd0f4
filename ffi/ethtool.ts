/**
 * Network device features through the `SIOCETHTOOL` ioctl (`linux/ethtool.h`), by name: what
 * `ethtool -k` shows and `ethtool -K` changes (`tx-checksum-ip-generic`, `tx-tcp-segmentation`,
 * `tx-udp-segmentation`, …), without the ethtool tool. Set-up only: these calls allocate.
 *
 * The feature names come from the kernel (string set `ETH_SS_FEATURES`); feature `i` is bit
 * `i % 32` of word `i / 32` in `ETHTOOL_GFEATURES`/`ETHTOOL_SFEATURES`.
 *
 * @module
 */

import { errno, libc } from "./libc.ts";
import { SyscallError } from "./errno.ts";
import { addressOf, allocStruct, IFR_UNION, ifreq } from "./structs.ts";

/** `ioctl` request of every ethtool command (`ifreq.ifr_data` points at the command struct). */
export const SIOCETHTOOL = 0x8946;
/** ethtool command: get string set sizes (`ethtool_sset_info`). */
export const ETHTOOL_GSSET_INFO = 0x37;
/** ethtool command: get a string set (`ethtool_gstrings`). */
export const ETHTOOL_GSTRINGS = 0x1b;
/** ethtool command: get device features (`ethtool_gfeatures`). */
export const ETHTOOL_GFEATURES = 0x3a;
/** ethtool command: change device features (`ethtool_sfeatures`). */
export const ETHTOOL_SFEATURES = 0x3b;
/** String set of the device feature names. */
export const ETH_SS_FEATURES = 4;
/** Bytes per ethtool string. */
export const ETH_GSTRING_LEN = 32;

/** `ethtool_sset_info`: cmd u32 @0, reserved u32 @4, sset_mask u64 @8, data u32[] @16. */
const SSET_MASK = 8;
const SSET_DATA = 16;
/** `ethtool_gstrings`: cmd @0, string_set @4, len @8, data @12. */
const GSTRINGS_SET = 4;
const GSTRINGS_LEN = 8;
const GSTRINGS_DATA = 12;
/** `ethtool_gfeatures`/`ethtool_sfeatures`: cmd @0, size @4 (blocks), blocks @8. */
const FEATURES_SIZE = 4;
const FEATURES_BLOCKS = 8;
/** `ethtool_get_features_block`: available, requested, active, never_changed (u32 each). */
const GET_BLOCK_BYTES = 16;
const GET_BLOCK_ACTIVE = 8;
/** `ethtool_set_features_block`: valid, requested (u32 each). */
const SET_BLOCK_BYTES = 8;

/** One feature of {@link netdevFeatures}. */
export interface NetdevFeature {
  /** Position in the feature bitmap. */
  index: number;
  /** The feature is on now. */
  active: boolean;
}

/** Run one ethtool command on `ifname` with `cmd` as the command struct. */
function ethtool(fd: number, ifname: string, cmd: Uint8Array, what: string): void {
  const req = ifreq(ifname);
  new DataView(req.buffer).setBigUint64(IFR_UNION, addressOf(cmd), true);
  const request = BigInt(SIOCETHTOOL);
  if (libc().ioctl(fd | 0, request, req) < 0) {
    throw new SyscallError("ioctl", errno(), `SIOCETHTOOL ${what} "${ifname}"`);
  }
}

/**
 * The features of `ifname` by name (`tx-tcp-segmentation` → `{ index, active }`), asked
 * through any socket `fd` in the interface's namespace. Throws SyscallError (ENODEV, EOPNOTSUPP).
 *
 * @example
 * ```ts
 * const tso = netdevFeatures(fd, "veth0").get("tx-tcp-segmentation")?.active ?? false;
 * ```
 */
export function netdevFeatures(fd: number, ifname: string): Map<string, NetdevFeature> {
  const info = allocStruct(SSET_DATA + 4);
  const iv = new DataView(info.buffer);
  iv.setUint32(0, ETHTOOL_GSSET_INFO, true);
  iv.setBigUint64(SSET_MASK, 1n << BigInt(ETH_SS_FEATURES), true);
  ethtool(fd, ifname, info, "GSSET_INFO");
  const count = iv.getBigUint64(SSET_MASK, true) === 0n ? 0 : iv.getUint32(SSET_DATA, true);

  const strings = allocStruct(GSTRINGS_DATA + count * ETH_GSTRING_LEN);
  const sv = new DataView(strings.buffer);
  sv.setUint32(0, ETHTOOL_GSTRINGS, true);
  sv.setUint32(GSTRINGS_SET, ETH_SS_FEATURES, true);
  sv.setUint32(GSTRINGS_LEN, count, true);
  ethtool(fd, ifname, strings, "GSTRINGS");

  const words = Math.ceil(count / 32);
  const features = allocStruct(FEATURES_BLOCKS + words * GET_BLOCK_BYTES);
  const fv = new DataView(features.buffer);
  fv.setUint32(0, ETHTOOL_GFEATURES, true);
  fv.setUint32(FEATURES_SIZE, words, true);
  ethtool(fd, ifname, features, "GFEATURES");

  const decoder = new TextDecoder();
  const out = new Map<string, NetdevFeature>();
  for (let i = 0; i < count; i++) {
    const at = GSTRINGS_DATA + i * ETH_GSTRING_LEN;
    let end = at;
    while (end < at + ETH_GSTRING_LEN && strings[end] !== 0) end++;
    if (end === at) continue;
    const name = decoder.decode(strings.subarray(at, end));
    const active = fv.getUint32(
      FEATURES_BLOCKS + (i >>> 5) * GET_BLOCK_BYTES + GET_BLOCK_ACTIVE,
      true,
    );
    out.set(name, { index: i, active: ((active >>> (i & 31)) & 1) === 1 });
  }
  return out;
}

/**
 * Turn features of `ifname` on or off by name (like `ethtool -K`), through any socket `fd` in
 * the interface's namespace; returns the features afterwards. Needs CAP_NET_ADMIN. The kernel
 * may refuse or adjust a change (features that depend on others follow them: no TSO without
 * TX checksumming); check the result. Throws RangeError for an unknown feature name.
 *
 * @example
 * ```ts
 * setNetdevFeatures(fd, "us0", { "tx-checksum-ip-generic": false });
 * ```
 */
export function setNetdevFeatures(
  fd: number,
  ifname: string,
  changes: Record<string, boolean>,
): Map<string, NetdevFeature> {
  const known = netdevFeatures(fd, ifname);
  let maxIndex = 0;
  for (const f of known.values()) maxIndex = Math.max(maxIndex, f.index);
  const words = Math.ceil((maxIndex + 1) / 32);
  const cmd = allocStruct(FEATURES_BLOCKS + words * SET_BLOCK_BYTES);
  const v = new DataView(cmd.buffer);
  v.setUint32(0, ETHTOOL_SFEATURES, true);
  v.setUint32(FEATURES_SIZE, words, true);
  for (const [name, on] of Object.entries(changes)) {
    const f = known.get(name);
    if (f === undefined) throw new RangeError(`setNetdevFeatures: no feature "${name}"`);
    const block = FEATURES_BLOCKS + (f.index >>> 5) * SET_BLOCK_BYTES;
    const bit = 1 << (f.index & 31);
    v.setUint32(block, v.getUint32(block, true) | bit, true); // valid
    const requested = v.getUint32(block + 4, true);
    v.setUint32(block + 4, on ? requested | bit : requested & ~bit, true);
  }
  // A positive result (ETHTOOL_F_WISH etc.) only says the kernel adjusted the request.
  ethtool(fd, ifname, cmd, "SFEATURES");
  return netdevFeatures(fd, ifname);
}
