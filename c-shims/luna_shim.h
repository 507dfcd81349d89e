/*
 * luna_shim: the smallest C that lets TypeScript drive DPDK.
 *
 * It moves packets and memory and nothing else: no protocol logic lives here.
 * Every function is called through the runtime's FFI (bun:ffi, Deno.dlopen);
 * the one table of these symbols on the TypeScript side is ffi/symbols.ts and
 * must change together with this header (bump LUNA_SHIM_ABI when it does).
 *
 * Conventions
 *  - Errors are negative errno values; luna_last_error() then describes the
 *    failure, including the DPDK log lines printed while it happened.
 *  - Packet buffers are integers: the byte offset of an mbuf from its pool's
 *    base address. TypeScript maps the pool once and never sees a pointer.
 *  - Bursts exchange descriptor records of LUNA_DESC_WORDS uint32 words:
 *      [0] buffer handle (offset of the mbuf from the pool base)
 *      [1] data offset (low 16 bits) | data length (high 16 bits)
 *      [2] flags: LUNA_RX_* on receive, LUNA_TX_* on transmit
 *      [3] receive: RSS hash; transmit: l2_len | l3_len << 8 | l4_len << 20
 *  - On transmit a packet may span records (a chain): LUNA_TX_MORE says that
 *    the next record continues this packet. Its first record holds the
 *    Ethernet, IPv4 and TCP headers (word 3 gives their lengths) and may hold
 *    payload after them; the rest hold payload. Each record hands one
 *    reference of its buffer to the shim, as a single record does. The shim
 *    never rewrites a zone mbuf of a chain: it copies the headers into an
 *    mbuf of its own and references the payload through indirect mbufs, so a
 *    buffer may be queued in several packets at once.
 *  - LUNA_TX_TCP_SEG on a packet's first record asks for TCP segmentation:
 *    payload cut into segments of at most the MSS in word 2's high 16 bits,
 *    by the port (TSO) or by the shim (DPDK's GSO library), their checksums
 *    filled as the port needs them.
 *  - On receive a packet may span records too: LUNA_RX_MORE says that the
 *    next record continues it. Its first record holds the Ethernet, IPv4 and
 *    TCP headers and the checksum verdicts (word 2) and may hold payload; the
 *    rest hold payload only, each link a buffer of the zone that the caller
 *    now owns (one reference each). Chains come from frames longer than one
 *    buffer (jumbo frames over small buffers) and from receive coalescing
 *    (the port's LRO, or DPDK's GRO library in the shim: LUNA_PORT_GRO).
 *  - Packet ports (c-shims/packet_port.c): luna_port_attach with devargs
 *    `luna_packet0,iface=IF` opens an AF_PACKET socket with PACKET_VNET_HDR
 *    on the interface and returns a port id above DPDK's; every luna_port_*
 *    call and both bursts take it like a DPDK port's. It offers TSO, LRO
 *    and IPv4/TCP checksum offload: the kernel's GSO and checksum offload
 *    through the virtio_net_hdr in front of each frame.
 */
#ifndef LUNA_SHIM_H
#define LUNA_SHIM_H

#include <stdint.h>

#define LUNA_SHIM_ABI 12

#define LUNA_DESC_WORDS 4
#define LUNA_BURST_MAX 512
#define LUNA_POOLS_MAX 64

/* Offload capabilities and requests, in luna's own bits. */
#define LUNA_OFFLOAD_IPV4_CKSUM (1u << 0)
#define LUNA_OFFLOAD_TCP_CKSUM (1u << 1)
#define LUNA_OFFLOAD_UDP_CKSUM (1u << 2)
#define LUNA_OFFLOAD_RSS_HASH (1u << 3)
#define LUNA_OFFLOAD_TCP_TSO (1u << 4)
/* Transmit only: the PMD sends chained mbufs, so the shim can cut large TCP
 * segments in software (GSO) and send chains of records. */
#define LUNA_OFFLOAD_TCP_GSO (1u << 5)
/* Receive only: the port coalesces in-order TCP segments of a flow (LRO). */
#define LUNA_OFFLOAD_TCP_LRO (1u << 6)

/* luna_port_configure() flags. */
/* The PMD carries frames of any length whatever limit it advertises (net_memif
 * chains its packet buffers): an MTU above that limit is then kept by the
 * shim alone, which drops longer received frames; the PMD's MTU stays. */
#define LUNA_PORT_MTU_PMD_UNBOUNDED (1u << 0)
/* The link needs no checksums (net_memif: shared memory between processes on
 * one host, the trust of a veth, where the kernel computes and verifies
 * none): the shim neither fills nor verifies IPv4/TCP/UDP checksums, and
 * reports every received frame's as good. Both ends must agree. */
#define LUNA_PORT_NO_CKSUM (1u << 1)
/* Coalesce received TCP segments in software: in each receive burst, the
 * in-order segments of one flow (same addresses, ports, ACK number, header
 * length and options, ACK flag alone, consecutive sequence numbers) become
 * one chained packet, with DPDK's GRO library, after their checksums are
 * verified; the packet's checksum verdicts say good. */
#define LUNA_PORT_GRO (1u << 2)
/* The PMD's transmit is handed at most 4 packets a call. DPDK's memif in
 * zero-copy (22.11 to at least 25.11) checks its ring's free slots once per
 * 4 packets of a larger burst, and a packet of one segment that meets no
 * free slot there overwrites one the server has not yet read: the frames
 * are lost, and their mbufs freed twice or never. With 4 at most it checks
 * before each packet (and before each segment of a chain). */
#define LUNA_PORT_TX_QUADS (1u << 3)

/* RSS hash functions, in luna's own bits. */
#define LUNA_RSS_IPV4 (1u << 0)
#define LUNA_RSS_IPV4_TCP (1u << 1)
#define LUNA_RSS_IPV4_UDP (1u << 2)

/* Receive descriptor flags. */
#define LUNA_RX_IP_CKSUM_GOOD (1u << 0)
#define LUNA_RX_IP_CKSUM_BAD (1u << 1)
#define LUNA_RX_L4_CKSUM_GOOD (1u << 2)
#define LUNA_RX_L4_CKSUM_BAD (1u << 3)
#define LUNA_RX_RSS_HASH (1u << 4)
#define LUNA_RX_MORE (1u << 5) /* the next record continues this packet */

/* Transmit descriptor flags. */
#define LUNA_TX_IPV4 (1u << 8)
#define LUNA_TX_IP_CKSUM (1u << 9)
#define LUNA_TX_TCP_CKSUM (1u << 10)
#define LUNA_TX_UDP_CKSUM (1u << 11)
#define LUNA_TX_MORE (1u << 12)    /* the next record continues this packet */
#define LUNA_TX_TCP_SEG (1u << 13) /* segment the packet: MSS in bits 16..31 */
#define LUNA_SEG_MSS_SHIFT 16

/* Records one packet may span, and segments one packet may be cut into. */
#define LUNA_CHAIN_RECORDS_MAX 128
#define LUNA_GSO_SEGS_MAX 64
/* Set in luna_tx_burst's result (with the records taken in the low 16 bits):
 * the shim holds segments of a packet the PMD took only part of, and sends
 * them first at the next call on the queue, which may move no records. */
#define LUNA_BURST_BACKLOG (1u << 16)

/* Word indexes of luna_pool_info(). */
enum {
	LUNA_POOL_INFO_COUNT,          /* buffers in the pool */
	LUNA_POOL_INFO_CACHE,          /* per-lcore cache size */
	LUNA_POOL_INFO_DATA_ROOM,      /* bytes of data room per buffer */
	LUNA_POOL_INFO_HEADROOM,       /* default data offset of a fresh buffer */
	LUNA_POOL_INFO_DATA_ROOM_OFF,  /* from handle to the first data room byte */
	LUNA_POOL_INFO_REFCNT_OFF,     /* offset of the uint16 refcount in the mbuf */
	LUNA_POOL_INFO_LEN_LO,         /* zone length, low 32 bits */
	LUNA_POOL_INFO_LEN_HI,         /* zone length, high 32 bits */
	LUNA_POOL_INFO_WORDS
};

/* Word indexes of luna_port_info(). */
enum {
	LUNA_PORT_INFO_MAX_RXQ,
	LUNA_PORT_INFO_MAX_TXQ,
	LUNA_PORT_INFO_RX_OFFLOADS,    /* LUNA_OFFLOAD_* the port can do on receive */
	LUNA_PORT_INFO_TX_OFFLOADS,    /* LUNA_OFFLOAD_* the port can do on transmit */
	LUNA_PORT_INFO_RSS_HASHES,     /* LUNA_RSS_* the port can hash on */
	LUNA_PORT_INFO_RETA_SIZE,
	LUNA_PORT_INFO_RX_DESC_MAX,
	LUNA_PORT_INFO_TX_DESC_MAX,
	LUNA_PORT_INFO_MAX_RX_PKTLEN,
	LUNA_PORT_INFO_MTU,            /* once configured: the MTU the shim bounds frames by */
	LUNA_PORT_INFO_SOCKET,         /* NUMA socket, or UINT32_MAX when unknown */
	LUNA_PORT_INFO_IF_INDEX,
	LUNA_PORT_INFO_STARTED,
	LUNA_PORT_INFO_RX_HELD,        /* buffers of the pool the port holds for receiving (a packet port's chains) */
	LUNA_PORT_INFO_WORDS
};

/* Index of luna_port_stats() values (uint64). */
enum {
	LUNA_STAT_IPACKETS,
	LUNA_STAT_OPACKETS,
	LUNA_STAT_IBYTES,
	LUNA_STAT_OBYTES,
	LUNA_STAT_IMISSED,
	LUNA_STAT_IERRORS,
	LUNA_STAT_OERRORS,
	LUNA_STAT_RX_NOMBUF,
	LUNA_STAT_SHIM_RX_FOREIGN, /* dropped: buffer from another pool */
	LUNA_STAT_SHIM_RX_MULTISEG, /* dropped: a chain of more links than one burst's records hold */
	LUNA_STAT_SHIM_TX_INVALID, /* refused: handle that is not a buffer of the pool */
	LUNA_STAT_SHIM_RX_OVERSIZE, /* dropped: frame longer than MTU + Ethernet header */
	LUNA_STAT_SHIM_TX_SEG_PKTS, /* large TCP packets cut by the shim (GSO) or the port (TSO) */
	LUNA_STAT_SHIM_TX_SEG_SEGS, /* segments the shim cut them into (TSO: counted by the port) */
	LUNA_STAT_SHIM_TX_SEG_DROPPED, /* segments cut that the PMD did not take: lost */
	LUNA_STAT_SHIM_TX_NOMBUF, /* chains left to the caller: the shim's own mbufs ran out */
	LUNA_STAT_SHIM_RX_GRO_PKTS, /* coalesced packets the shim (GRO) delivered */
	LUNA_STAT_SHIM_RX_GRO_SEGS, /* received segments merged into them */
	LUNA_STAT_SHIM_RX_CHAINS, /* chained packets delivered (coalesced, or longer than a buffer) */
	LUNA_STAT_SHIM_RX_RING_DROPPED, /* dropped by the kernel: an af_packet socket's ring was full */
	LUNA_STAT_SHIM_RX_LRO_PKTS, /* packets the port coalesced (LRO; a packet port: the kernel's GSO packets) */
	LUNA_STAT_SHIM_RX_VNET_DROPPED, /* dropped: a packet port's malformed vnet header, or longer than a chain holds */
	LUNA_STAT_SHIM_TX_REFUSED, /* mbufs made for the PMD that it did not take (a full ring): made again later */
	LUNA_STAT_SHIM_TX_PMD_CALLS, /* transmit bursts the shim handed the PMD (rte_eth_tx_burst calls) */
	LUNA_STAT_SHIM_RX_GRO_CALLS, /* runs of received segments handed to GRO (rte_gro_reassemble_burst calls) */
	LUNA_STAT_WORDS
};

int32_t luna_shim_abi(void);
int32_t luna_shim_build_id(uint8_t *out, uint32_t cap);
int32_t luna_last_error(uint8_t *out, uint32_t cap);
void luna_log_echo(int32_t on);

int32_t luna_eal_init(const uint8_t *args, uint32_t args_len, int32_t argc);
int32_t luna_eal_cleanup(void);
int32_t luna_thread_register(void);
int32_t luna_thread_unregister(void);

int32_t luna_pool_create(const uint8_t *name, uint32_t name_len, uint32_t count,
			 uint32_t cache, uint32_t data_room);
void *luna_pool_base(int32_t pool);
/* The pool's marks of hot sums: one byte per 64 bytes of the zone, the
 * byte at (handle >> 6) of each buffer; nonzero while luna_copy_in's sums
 * of the buffer's payload hold. Whoever takes a buffer to write into it
 * (the zone, when it hands one out) zeroes its byte; ((len >> 6) + 1)
 * bytes, len the zone's. */
void *luna_pool_marks(int32_t pool);
int32_t luna_pool_info(int32_t pool, uint32_t *out, uint32_t words);
int32_t luna_pool_avail(int32_t pool);
/* Frees a pool. Unless `driver_held` is set, every buffer must be back
 * (-EBUSY otherwise); with it set, the buffers still out are taken to be
 * kept by a removed port's driver (DPDK's net_af_xdp does not give back
 * the buffers on its fill ring when it closes) and the pool goes anyway. */
int32_t luna_pool_free(int32_t pool, int32_t driver_held);
/* 0 when every buffer the EAL has allocated can be shared with another
 * process the way DPDK 22.11's memif zero-copy client shares it: the
 * driver hands its peer one file descriptor per segment list and names
 * every buffer as lying in the first list that has segments, so all of
 * them must lie in that one list, its pages one file (--single-file-segments;
 * --no-huge memory is one memfd), one after another from the list's start.
 * Negative with the reason in luna_last_error otherwise. */
int32_t luna_mem_shareable(void);
int32_t luna_alloc_bulk(int32_t pool, uint32_t *handles, uint32_t n);
int32_t luna_free_bulk(int32_t pool, const uint32_t *handles, uint32_t n);
int32_t luna_refcnt_update(int32_t pool, const uint32_t *handles, uint32_t n,
			   int32_t delta);
/* Copies bytes from `src` (src_len bytes long), from src_off on, into the
 * pool's buffers: `n` records of 3 words (handle, zone offset, length), each
 * within its buffer's data room, filled in order. Returns n, or -EINVAL
 * (nothing copied) if a record or the source is out of bounds. One call for
 * a write that fills dozens of buffers. While a port using the pool sums
 * checksums in software, it sums each buffer's payload as it copies it and
 * marks the buffer (see luna_pool_marks): the port's transmit path takes
 * those sums instead of reading the bytes again. Bytes copied right after
 * those of a marked buffer (a write that tops up the last buffer) are summed
 * in with them. */
int32_t luna_copy_in(int32_t pool, const uint8_t *src, uint32_t src_len, uint32_t src_off,
		     const uint32_t *dst, uint32_t n);

int32_t luna_port_count(void);
int32_t luna_port_find(const uint8_t *name, uint32_t name_len);
int32_t luna_port_attach(const uint8_t *devargs, uint32_t len);
int32_t luna_port_name(int32_t port, uint8_t *out, uint32_t cap);
int32_t luna_port_driver(int32_t port, uint8_t *out, uint32_t cap);
int32_t luna_port_info(int32_t port, uint32_t *out, uint32_t words);
/* mtu: 0 keeps the port's own; otherwise the pool's buffers must hold a
 * frame of mtu + 14 bytes after the headroom, and the PMD must accept it
 * (or flags carry LUNA_PORT_MTU_PMD_UNBOUNDED). */
int32_t luna_port_configure(int32_t port, int32_t pool, uint32_t nb_rxq,
			    uint32_t nb_txq, uint32_t rx_desc, uint32_t tx_desc,
			    uint32_t rx_offloads, uint32_t tx_offloads,
			    uint32_t rss_hashes, uint32_t mtu, uint32_t flags);
int32_t luna_port_start(int32_t port);
int32_t luna_port_stop(int32_t port);
int32_t luna_port_close(int32_t port);
/* Stop, close and remove the port's device: the EAL stays up, the device can be probed again. */
int32_t luna_port_remove(int32_t port);
int32_t luna_port_promiscuous(int32_t port, int32_t on);
int32_t luna_port_mac(int32_t port, uint8_t *out6);
int32_t luna_port_link(int32_t port, uint32_t *out4);
int32_t luna_port_stats(int32_t port, uint64_t *out, uint32_t n);
int32_t luna_port_stats_reset(int32_t port);
int32_t luna_port_xstats_names(int32_t port, uint8_t *out, uint32_t cap);
int32_t luna_port_xstats(int32_t port, uint64_t *out, uint32_t n);
int32_t luna_ring_pair(const uint8_t *name, uint32_t name_len, uint32_t ring_size,
		       uint32_t *ports2);

/* Returns the records filled, whole packets only (a chain's records are all
 * there). Packets whose records do not fit in max wait for the next call. */
int32_t luna_rx_burst(int32_t port, int32_t queue, uint32_t *descs, uint32_t max);
/* Where the port has no checksum offload the shim fills the checksums of
 * each record and clears its checksum flags in descs, so that records the
 * PMD did not take (and the caller sends again) are not summed twice.
 * Returns the records taken, whole packets only, with LUNA_BURST_BACKLOG. */
int32_t luna_tx_burst(int32_t port, int32_t queue, int32_t pool,
		      uint32_t *descs, uint32_t n);

#endif
