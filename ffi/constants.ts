/**
 * Linux x86-64 constants used by the libc bindings and the drivers: address families, socket
 * options, ioctl requests, poll bits, open/eventfd/mmap flags. Values are the kernel's UAPI
 * numbers (`linux/if_packet.h`, `linux/if_ether.h`, `asm-generic/socket.h`, `linux/sockios.h`,
 * `linux/if_tun.h`, `asm-generic/fcntl.h`, `asm-generic/mman-common.h`).
 *
 * AF_XDP's own numbers and layouts are in `ffi/if_xdp.ts`.
 *
 * @module
 */

// --- Address families and socket types -------------------------------------------------------

/** IPv4 address family. */
export const AF_INET = 2;
/** IPv6 address family. */
export const AF_INET6 = 10;
/** Link-layer packet sockets. */
export const AF_PACKET = 17;
/** XDP sockets. */
export const AF_XDP = 44;
/** Datagram socket (cooked AF_PACKET: no link header). */
export const SOCK_DGRAM = 2;
/** Raw socket (AF_PACKET: whole frames including the Ethernet header). */
export const SOCK_RAW = 3;
/** `socket()` type flag: the new fd is non-blocking. */
export const SOCK_NONBLOCK = 0o4000;
/** `socket()` type flag: the new fd is closed on exec. */
export const SOCK_CLOEXEC = 0o2000000;

// --- EtherTypes (host order; byte-swap with htons for sockaddr_ll) -----------------------------

/** Every protocol: the AF_PACKET "see all frames" pseudo EtherType. */
export const ETH_P_ALL = 0x0003;
/** IPv4. */
export const ETH_P_IP = 0x0800;
/** ARP. */
export const ETH_P_ARP = 0x0806;
/** IPv6. */
export const ETH_P_IPV6 = 0x86dd;
/** Length of an Ethernet header (dst MAC, src MAC, EtherType). */
export const ETH_HLEN = 14;
/** Length of a MAC address. */
export const ETH_ALEN = 6;
/** `sockaddr_ll.sll_hatype` / ARP hardware type of Ethernet. */
export const ARPHRD_ETHER = 1;

// --- Socket levels and options ------------------------------------------------------------------

/** `setsockopt` level of generic socket options. */
export const SOL_SOCKET = 1;
/** `setsockopt` level of AF_PACKET options (also the cmsg level of PACKET_AUXDATA). */
export const SOL_PACKET = 263;
/** `setsockopt` level of AF_XDP options. */
export const SOL_XDP = 283;
/** Send buffer size. */
export const SO_SNDBUF = 7;
/** Receive buffer size. */
export const SO_RCVBUF = 8;
/** Send buffer size, ignoring `wmem_max` (needs CAP_NET_ADMIN). */
export const SO_SNDBUFFORCE = 32;
/** Receive buffer size, ignoring `rmem_max` (needs CAP_NET_ADMIN). */
export const SO_RCVBUFFORCE = 33;

/** PACKET option: join a multicast group / set promiscuous mode (`packet_mreq`). */
export const PACKET_ADD_MEMBERSHIP = 1;
/** PACKET option: memory-mapped RX ring (`tpacket_req`/`tpacket_req3`). */
export const PACKET_RX_RING = 5;
/** PACKET option: counters (`tpacket_stats`), reset on read. */
export const PACKET_STATISTICS = 6;
/** PACKET option: deliver a `tpacket_auxdata` cmsg with each received frame. */
export const PACKET_AUXDATA = 8;
/** PACKET option: ring version (`TPACKET_V1..V3`). */
export const PACKET_VERSION = 10;
/** PACKET option: memory-mapped TX ring. */
export const PACKET_TX_RING = 13;
/** PACKET option: prepend a `virtio_net_hdr` to every frame (offloads). */
export const PACKET_VNET_HDR = 15;
/** PACKET option: transmit straight to the driver, bypassing the qdisc. */
export const PACKET_QDISC_BYPASS = 20;
/** PACKET option: do not deliver frames this host transmits on the interface. */
export const PACKET_IGNORE_OUTGOING = 23;
/**
 * PACKET option: join (or create) a fanout group: `id | (type | flags) << 16` (an int);
 * `getsockopt` reads back the group's `id | type << 16 | flags << 24`.
 */
export const PACKET_FANOUT = 18;
/** PACKET option: the program of a `PACKET_FANOUT_CBPF`/`EBPF` group (a `sock_fprog`). */
export const PACKET_FANOUT_DATA = 22;
/**
 * Fanout type: a classic BPF program (set with PACKET_FANOUT_DATA) returns the member index;
 * the kernel takes it modulo the number of members (`fanout_demux_bpf`).
 */
export const PACKET_FANOUT_CBPF = 6;
/** Fanout flag: the kernel picks a free group id for the first socket (id must be 0). */
export const PACKET_FANOUT_FLAG_UNIQUEID = 0x2000;
/**
 * Fanout flag (Linux ≥ 4.20): the group does not deliver frames this host transmits on the
 * interface. A member's own PACKET_IGNORE_OUTGOING does not count: the kernel consults the
 * group's shared hook. Every joiner must pass the same flags as the group's creator.
 */
export const PACKET_FANOUT_FLAG_IGNORE_OUTGOING = 0x4000;

/** `sll_pkttype`: to us. */
export const PACKET_HOST = 0;
/** `sll_pkttype`: link-layer broadcast. */
export const PACKET_BROADCAST = 1;
/** `sll_pkttype`: link-layer multicast. */
export const PACKET_MULTICAST = 2;
/** `sll_pkttype`: to someone else (promiscuous). */
export const PACKET_OTHERHOST = 3;
/** `sll_pkttype`: sent by this host (a looped-back copy of our own TX). */
export const PACKET_OUTGOING = 4;

/** TPACKET ring version 2. */
export const TPACKET_V2 = 1;
/** TPACKET ring version 3 (block-based RX). */
export const TPACKET_V3 = 2;

/** `tp_status`: the frame's checksum is not finished (CHECKSUM_PARTIAL). */
export const TP_STATUS_CSUMNOTREADY = 0x8;
/** `tp_status`: `tp_vlan_tci` is valid. */
export const TP_STATUS_VLAN_VALID = 0x10;
/** `tp_status`: `tp_vlan_tpid` is valid. */
export const TP_STATUS_VLAN_TPID_VALID = 0x40;
/** `tp_status`: the frame's checksum was verified (CHECKSUM_UNNECESSARY). */
export const TP_STATUS_CSUM_VALID = 0x80;

// --- Message flags ------------------------------------------------------------------------------

/** `msg_flags`: control data was truncated. */
export const MSG_CTRUNC = 0x8;
/** `msg_flags`: the datagram was longer than the buffer (and was truncated). */
export const MSG_TRUNC = 0x20;
/** Call flag: do not block (as if the fd were O_NONBLOCK). */
export const MSG_DONTWAIT = 0x40;

// --- ioctl requests -----------------------------------------------------------------------------

/** Get interface flags (`ifreq.ifr_flags`). */
export const SIOCGIFFLAGS = 0x8913;
/** Set interface flags (`ifreq.ifr_flags`). */
export const SIOCSIFFLAGS = 0x8914;
/** List the IPv4 addresses of every interface (`struct ifconf` of `ifreq`s, one per address). */
export const SIOCGIFCONF = 0x8912;
/** Get interface MTU (`ifreq.ifr_mtu`). */
export const SIOCGIFMTU = 0x8921;
/** Set interface MTU (`ifreq.ifr_mtu`). */
export const SIOCSIFMTU = 0x8922;
/** Get hardware address (`ifreq.ifr_hwaddr`, a sockaddr; MAC at ifreq offset 18). */
export const SIOCGIFHWADDR = 0x8927;
/** Get interface index (`ifreq.ifr_ifindex`). */
export const SIOCGIFINDEX = 0x8933;
/** Interface name size including the terminating NUL. */
export const IFNAMSIZ = 16;
/** `ifr_flags` (`linux/if.h`): administratively up. */
export const IFF_UP = 0x1;

/** TUN/TAP: attach the fd to an interface (`ifreq` with name and IFF_* flags). */
export const TUNSETIFF = 0x400454ca;
/** TUN/TAP: set the offloads the reader accepts (`TUN_F_*`). */
export const TUNSETOFFLOAD = 0x400454d0;
/** TUN/TAP `ifr_flags`: Ethernet frames. */
export const IFF_TAP = 0x0002;
/** TUN/TAP `ifr_flags`: no 4-byte packet information prefix. */
export const IFF_NO_PI = 0x1000;
/** TUN/TAP `ifr_flags`: prepend a `virtio_net_hdr`. */
export const IFF_VNET_HDR = 0x4000;
/** TUNSETOFFLOAD bit: the reader accepts frames with a partial checksum. */
export const TUN_F_CSUM = 0x01;
/** TUNSETOFFLOAD bit: the reader accepts TCPv4 super-frames. */
export const TUN_F_TSO4 = 0x02;
/** TUNSETOFFLOAD bit: the reader accepts TCPv6 super-frames. */
export const TUN_F_TSO6 = 0x04;

// --- poll ----------------------------------------------------------------------------------------

/** poll: data to read. */
export const POLLIN = 0x001;
/** poll: writing will not block. */
export const POLLOUT = 0x004;
/** poll: error condition (always reported). */
export const POLLERR = 0x008;
/** poll: hung up (always reported). */
export const POLLHUP = 0x010;
/** poll: invalid fd (always reported). */
export const POLLNVAL = 0x020;

// --- open / fcntl / eventfd ---------------------------------------------------------------------

/** open: read only. */
export const O_RDONLY = 0;
/** open: read and write. */
export const O_RDWR = 2;
/** open/fcntl: non-blocking I/O. */
export const O_NONBLOCK = 0o4000;
/** open: close on exec. */
export const O_CLOEXEC = 0o2000000;
/** fcntl: get file descriptor flags. */
export const F_GETFD = 1;
/** fcntl: set file descriptor flags. */
export const F_SETFD = 2;
/** fcntl: get file status flags. */
export const F_GETFL = 3;
/** fcntl: set file status flags. */
export const F_SETFL = 4;
/** fcntl F_GETFD/F_SETFD flag: close on exec. */
export const FD_CLOEXEC = 1;
/** eventfd flag: non-blocking. */
export const EFD_NONBLOCK = 0o4000;
/** eventfd flag: close on exec. */
export const EFD_CLOEXEC = 0o2000000;
/** `epoll_create1` flag: close on exec. */
export const EPOLL_CLOEXEC = 0o2000000;
/** `epoll_ctl` op: add an fd. */
export const EPOLL_CTL_ADD = 1;
/** epoll event: readable. */
export const EPOLLIN = 0x001;

/** setns/unshare: the network namespace. */
export const CLONE_NEWNET = 0x40000000;

// --- mmap ---------------------------------------------------------------------------------------

/** mmap: pages may be read. */
export const PROT_READ = 0x1;
/** mmap: pages may be written. */
export const PROT_WRITE = 0x2;
/** mmap: share the mapping (rings). */
export const MAP_SHARED = 0x01;
/** mmap: private copy-on-write mapping. */
export const MAP_PRIVATE = 0x02;
/** mmap: not backed by a file. */
export const MAP_ANONYMOUS = 0x20;
/** mmap: fault the pages in now. */
export const MAP_POPULATE = 0x8000;
/** Page size of x86-64 Linux: mappings, ring blocks and UMEMs are whole pages. */
export const PAGE_BYTES = 4096;
/** The value `mmap` returns on failure, `(void *) -1`. */
export const MAP_FAILED = 0xffffffffffffffffn;
