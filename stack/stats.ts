/**
 * Stack counters, grouped per layer and named after Linux's `nstat` counters where one exists
 * (`IpInHdrErrors` is `stats.ip.InHdrErrors`), so users recognise them. Every drop on the data
 * path increments exactly one counter that says why.
 *
 * @module
 */

import { type Counters, makeCounters as counters } from "../core/counters.ts";
import { PMTU_COUNTERS } from "../net/path_mtu.ts";
import { DSACK_COUNTER_BY_REASON } from "../transport/tcp/retrans_log.ts";

export type { Counters } from "../core/counters.ts";

/** Link-layer counters kept by a NIC (the driver keeps its own in `DriverStats`). */
export const LINK_COUNTERS = [
  "InFrames",
  "OutFrames",
  "InNotForUs",
  "InTruncated",
  "InUnknownEtherType",
  "InInternalErrors",
  "OutDropped",
] as const;

/** ARP counters. */
export const ARP_COUNTERS = [
  "InRequests",
  "InReplies",
  "InErrors",
  "InIgnored",
  "OutRequests",
  "OutReplies",
  "OutGratuitous",
  "ResolveFailed",
  "ProbeFailed",
  "QueueDrops",
  "CacheFull",
] as const;

/**
 * Fragmentation and reassembly counters, the same for both families (Linux `Ip*`/`Ip6*`
 * names) plus some Linux lacks: `ReasmDuplicates` (fragments ignored as exact repeats),
 * `ReasmMalformed` (fragments refused: empty, a non-final one not a multiple of 8 bytes, past
 * 65 535 bytes), `ReasmEvictions` (incomplete datagrams evicted, oldest first, to stay within
 * the memory bound) and `ReasmSourceEvictions` (evicted because their source reached its
 * share of that memory); and the reused views of the fragment copies (`core/subarray_cache.ts`):
 * `ReasmCopyViewHits` (a view found, no allocation), `ReasmCopyViewMisses` (a view made) and
 * `ReasmCopyViewReplaced` (misses that dropped a view still held: the table at its bound).
 */
export const FRAGMENT_COUNTERS = [
  "FragOKs",
  "FragFails",
  "FragCreates",
  "ReasmReqds",
  "ReasmOKs",
  "ReasmFails",
  "ReasmTimeout",
  "ReasmOverlaps",
  "ReasmDuplicates",
  "ReasmMalformed",
  "ReasmEvictions",
  "ReasmSourceEvictions",
  "ReasmCopyViewHits",
  "ReasmCopyViewMisses",
  "ReasmCopyViewReplaced",
] as const;

/** IPv4 counters (RFC 4293 / Linux `Ip*`), fragmentation's from {@link FRAGMENT_COUNTERS}. */
export const IP_COUNTERS = [
  "InReceives",
  "InHdrErrors",
  "InTruncatedPkts",
  "InBadVersion",
  "InCsumErrors",
  "InAddrErrors",
  "InMartianSrc",
  "InUnknownProtos",
  "InDelivers",
  "InDiscards",
  // BIG TCP super-frames accepted with a total length of 0 (longer than 65,535 bytes).
  "InBigTcpPkts",
  "OutRequests",
  "OutNoRoutes",
  "OutDiscards",
  "OutNoBuffers",
  ...FRAGMENT_COUNTERS,
] as const;

/** IPv6 counters (Linux `Ip6*`, without the prefix), fragmentation's from {@link FRAGMENT_COUNTERS}. */
export const IP6_COUNTERS = [
  "InReceives",
  "InHdrErrors",
  "InTruncatedPkts",
  "InAddrErrors",
  "InUnknownProtos",
  "InDiscards",
  "InDelivers",
  "InMcastPkts",
  // BIG TCP super-frames accepted: payload length 0 and a jumbo hop-by-hop header.
  "InBigTcpPkts",
  "OutRequests",
  "OutDiscards",
  "OutNoRoutes",
  "OutNoBuffers",
  "OutMcastPkts",
  ...FRAGMENT_COUNTERS,
] as const;

/** ICMPv6 counters (Linux `Icmp6*`, without the prefix). */
export const ICMP6_COUNTERS = [
  "InMsgs",
  "InErrors",
  "InCsumErrors",
  "InDestUnreachs",
  "InPktTooBigs",
  "InTimeExcds",
  "InParmProblems",
  "InEchos",
  "InEchoReplies",
  "InGroupMembQueries",
  "InGroupMembResponses",
  "InGroupMembReductions",
  "InRouterSolicits",
  "InRouterAdvertisements",
  "InNeighborSolicits",
  "InNeighborAdvertisements",
  "InRedirects",
  "InMLDv2Reports",
  "InOther",
  "OutMsgs",
  "OutErrors",
  "OutDestUnreachs",
  "OutPktTooBigs",
  "OutTimeExcds",
  "OutParmProblems",
  "OutEchos",
  "OutEchoReplies",
  "OutRouterSolicits",
  "OutNeighborSolicits",
  "OutNeighborAdvertisements",
  "OutMLDv2Reports",
  "OutRateLimitHost",
] as const;

/**
 * Neighbour discovery counters (no nstat equivalent): validation drops, the neighbour cache,
 * DAD, MLD groups, router advertisements and the routes they make.
 */
export const NDP_COUNTERS = [
  "InBadHopLimit",
  "InInvalid",
  "NsNotForUs",
  "NaUnsolicited",
  "RsIgnored",
  "RedirectsIgnored",
  "AddressConflicts",
  "RaAccepted",
  "RaIgnored",
  "RaBadMtu",
  "RaPrefixIgnored",
  "OutNoSource",
  "ResolveFailed",
  "ProbeFailed",
  "QueueDrops",
  "CacheFull",
  "DadProbes",
  "DadSuccesses",
  "DadFailures",
  "DadLoopedBack",
  "AddressesRefused",
  "AddressesExpired",
  "RoutesRefused",
  "RoutersExpired",
  "PrefixesExpired",
  "GroupsRefused",
] as const;

/**
 * ICMPv4 counters (Linux `Icmp*`). `InFragNeeded` (the fragmentation-needed share of
 * `InDestUnreachs`, RFC 1191) has no Linux twin.
 */
export const ICMP_COUNTERS = [
  "InMsgs",
  "InErrors",
  "InCsumErrors",
  "InEchos",
  "InEchoReps",
  "InDestUnreachs",
  "InFragNeeded",
  "InTimeExcds",
  "InParmProbs",
  "InOther",
  "OutMsgs",
  "OutEchos",
  "OutEchoReps",
  "OutDestUnreachs",
  "OutTimeExcds",
  "OutParmProbs",
  "OutRateLimited",
  "OutErrors",
] as const;

/** UDP counters (Linux `Udp*`). */
export const UDP_COUNTERS = [
  "InDatagrams",
  "NoPorts",
  "InErrors",
  "InCsumErrors",
  "RcvbufErrors",
  "OutDatagrams",
  "SndbufErrors",
  "IgnoredMulti",
  // Zero-copy receive (no Linux twin): datagrams lent out in place, handed back, and still
  // lent when their socket closed (an application that forgot to hand them back).
  "ZeroCopyLent",
  "ZeroCopyReturned",
  "ZeroCopyLeakedOnClose",
  // The reused views of the copies onto sockets (core/subarray_cache.ts; no Linux twin): a view
  // found (no allocation), a view made, and misses that dropped a view still held (the bound).
  "CopyViewHits",
  "CopyViewMisses",
  "CopyViewReplaced",
] as const;

/**
 * TCP counters (Linux `Tcp*` and `TcpExt*`). Some have no Linux equivalent:
 * `TCPSackScoreboardFull` (a transmission or SACK split refused because the connection's
 * scoreboard reached its bound), `TCPECNCwr` (window reductions on ECN-Echo, RFC 3168),
 * `TCPSendBufferFull` (writes that found the send buffer full and left bytes behind) and
 * `TCPPathMtuLowered` (a connection's MSS lowered by a smaller path MTU, RFC 1191 / RFC
 * 8201). `TCPMTUPFail` counts black-hole fallbacks (RFC 4821 §7.7 / Linux `tcp_mtu_probing`:
 * repeated timeouts of full-sized segments lowered the MSS) and `TCPMTUPSuccess` those
 * confirmed by an acknowledgment of data sent at the lowered size. Loss detection per
 * detector (no Linux twins): `TCPRackLostSegs` (segments RACK deemed lost on an ACK),
 * `TCPRackTimerLostSegs` (on its reordering timer), `TCPRetransProbes` (recovery probes that
 * fired and resent something).
 * D-SACKs received per detector of the retransmission they report (no Linux twins;
 * `transport/tcp/retrans_log.ts`): `TCPDSACKRack` (RACK on an ACK), `TCPDSACKRackTimer` (on
 * its reordering timer), `TCPDSACKRackAfterRetrans` (RACK while its newest delivery was a
 * retransmitted segment's), `TCPDSACKLossProbe` (the tail loss probe),
 * `TCPDSACKRetransProbe` (the recovery probe), `TCPDSACKRto`, `TCPDSACKReno` (NewReno without
 * SACK), `TCPDSACKMtu` (resent for a lowered MTU) and `TCPDSACKUnknown` (no logged
 * retransmission holds it: overwritten, or a duplicate the network made);
 * `TCPRetransLogOverrun` (a retransmission that may still be reported overwritten in the
 * log at its bound), `TCPRackReoWndWidened` (a D-SACK of data RACK resent widened RACK's
 * reordering window to the lateness it showed, `rack.ts`).
 * `RcvCopyView*`, `RcvReadView*` and `SndCopyView*` count the reused views of the copies into
 * receive buffers, out of receive buffers (an application's read) and out of send buffers
 * (`core/subarray_cache.ts`): a view found, a view made, a view still held dropped. They are
 * listed here, not added by the caches, so the group is built whole: V8 turns a
 * group that grows by keyed stores into a dictionary (`core/counters.ts`).
 */
export const TCP_COUNTERS = [
  "ActiveOpens",
  "PassiveOpens",
  "AttemptFails",
  "EstabResets",
  "CurrEstab",
  "InSegs",
  "OutSegs",
  "RetransSegs",
  "InErrs",
  "InCsumErrors",
  "OutRsts",
  "InRsts",
  "TCPTimeouts",
  "TCPFastRetrans",
  "TCPSlowStartRetrans",
  "TCPLossProbes",
  "TCPLossProbeRecovery",
  "TCPSackRecovery",
  "TCPRenoRecovery",
  "TCPDSACKRecv",
  "TCPDSACKUndo",
  "TCPDSACKOldSent",
  "TCPDSACKOfoSent",
  "TCPSpuriousRTOs",
  "TCPLostRetransmit",
  "TCPDSACKRecvSegs",
  "TCPRackLostSegs",
  "TCPRackTimerLostSegs",
  "TCPRetransProbes",
  // The D-SACKs laid to each retransmission reason (transport/tcp/retrans_log.ts).
  ...DSACK_COUNTER_BY_REASON,
  "TCPSACKDiscard",
  "TCPSACKReorder",
  "TCPRackReoWndWidened",
  "TCPRetransLogOverrun",
  "TCPSackScoreboardFull",
  "TCPECNCwr",
  "TCPOFOQueue",
  "TCPOFODrop",
  "TCPChallengeACK",
  "TCPSYNChallenge",
  "PAWSEstab",
  "TCPAbortOnTimeout",
  "TCPAbortOnClose",
  "TCPAbortOnData",
  "TCPKeepAlive",
  "TCPZeroWindowProbes",
  "ListenOverflows",
  "ListenDrops",
  "SyncookiesSent",
  "SyncookiesRecv",
  "SyncookiesFailed",
  "TCPReqQFullDoCookies",
  "SyncookiesRateLimited",
  "SyncookiesKnownSource",
  "SyncookiesKnownEvicted",
  "TCPReqQFullDrop",
  "TCPSynRetrans",
  "TCPDelayedAcks",
  "TCPAckDeferred",
  "TCPAckDeferAutoOn",
  "TCPAckDeferAutoOff",
  "TCPTimeWaitReuse",
  "TCPTimeWaitOverflow",
  "TWRecycled",
  "TW",
  "TCPRcvQDrop",
  "TCPRcvDirectBytes",
  "TCPBacklogDrop",
  "TCPSendBufferFull",
  "TCPPathMtuLowered",
  "TCPMTUPFail",
  "TCPMTUPSuccess",
  "RcvCopyViewHits",
  "RcvCopyViewMisses",
  "RcvCopyViewReplaced",
  "RcvReadViewHits",
  "RcvReadViewMisses",
  "RcvReadViewReplaced",
  "SndCopyViewHits",
  "SndCopyViewMisses",
  "SndCopyViewReplaced",
] as const;

/**
 * All counters of one stack.
 *
 * @example
 * ```ts
 * const stats = new StackStats();
 * stats.ip.InHdrErrors++;
 * console.log(stats.snapshot().ip.InHdrErrors); // 1
 * ```
 */
export class StackStats {
  /** Link-layer counters summed over NICs. */
  readonly link: Counters = counters(LINK_COUNTERS);
  /** ARP. */
  readonly arp: Counters = counters(ARP_COUNTERS);
  /** IPv4. */
  readonly ip: Counters = counters(IP_COUNTERS);
  /** ICMPv4. */
  readonly icmp: Counters = counters(ICMP_COUNTERS);
  /** IPv6. */
  readonly ip6: Counters = counters(IP6_COUNTERS);
  /** ICMPv6. */
  readonly icmp6: Counters = counters(ICMP6_COUNTERS);
  /** Neighbour discovery. */
  readonly ndp: Counters = counters(NDP_COUNTERS);
  /** UDP. */
  readonly udp: Counters = counters(UDP_COUNTERS);
  /** TCP. */
  readonly tcp: Counters = counters(TCP_COUNTERS);
  /** The path MTU cache both families share (`net/path_mtu.ts`). */
  readonly pmtu: Counters = counters(PMTU_COUNTERS);

  /** A plain-object copy, for printing or JSON. */
  snapshot(): Record<string, Counters> {
    return {
      link: { ...this.link },
      arp: { ...this.arp },
      ip: { ...this.ip },
      icmp: { ...this.icmp },
      ip6: { ...this.ip6 },
      icmp6: { ...this.icmp6 },
      ndp: { ...this.ndp },
      udp: { ...this.udp },
      tcp: { ...this.tcp },
      pmtu: { ...this.pmtu },
    };
  }

  /** Only the non-zero counters, for compact human-readable output. */
  nonZero(): Record<string, Counters> {
    const out: Record<string, Counters> = {};
    for (const [layer, group] of Object.entries(this.snapshot())) {
      const nz: Counters = {};
      for (const [k, v] of Object.entries(group)) if (v !== 0) nz[k] = v;
      if (Object.keys(nz).length > 0) out[layer] = nz;
    }
    return out;
  }
}
