/*
 * packet_port: luna's own AF_PACKET port with PACKET_VNET_HDR (device kind
 * `packet:IFACE`), internal to the shim. luna_shim.c presents it to
 * TypeScript as a port like DPDK's: its ids follow DPDK's
 * (LUNA_PACKET_PORT_BASE ..), every luna_port_* call and both bursts
 * dispatch here for them, and its bursts move rte_mbufs of the port's pool,
 * so the shim's chains, checksum verdicts, stash and backlog serve it as
 * they serve a DPDK port.
 *
 * What it offers, as a NIC would: TCP segmentation (a chain with
 * RTE_MBUF_F_TX_TCP_SEG goes to the kernel as one GSO packet), LRO (a GSO
 * packet from the kernel arrives as one chain with RTE_MBUF_F_RX_LRO) and
 * IPv4/TCP checksum offload (the kernel fills the TCP checksum, or needs
 * none, through the virtio_net_hdr's NEEDS_CSUM).
 */
#ifndef LUNA_PACKET_PORT_H
#define LUNA_PACKET_PORT_H

#include <stddef.h>
#include <stdint.h>

#include <rte_build_config.h>
#include <rte_mbuf.h>

#define LUNA_PACKET_PORT_BASE RTE_MAX_ETHPORTS
#define LUNA_PACKET_PORTS_MAX 8
/* Every port id the shim knows: DPDK's, then the packet ports. */
#define LUNA_PORTS_MAX (RTE_MAX_ETHPORTS + LUNA_PACKET_PORTS_MAX)
/* The device name prefix: `luna_packet0,iface=veth0`. */
#define LUNA_PACKET_DRIVER "luna_packet"

static inline int pkt_port_is(int32_t port)
{
	return port >= LUNA_PACKET_PORT_BASE && port < LUNA_PACKET_PORT_BASE + LUNA_PACKET_PORTS_MAX;
}

/* The last failure of a pkt_* call, for luna_last_error. */
const char *pkt_error(void);

/* Opens the port described by `devargs` (`luna_packetN,iface=IF`): its id, or -errno. */
int32_t pkt_attach(const char *devargs);
/* The id of the open port named `name`, or -ENODEV. */
int32_t pkt_find(const char *name);
/* Whether `port` is an open packet port. */
int pkt_open(int32_t port);
const char *pkt_name(int32_t port);

struct pkt_info {
	uint32_t if_index;
	uint32_t mtu;         /* the interface's */
	uint32_t frame_max;   /* the longest frame one receive chain holds */
	uint32_t started;
	uint32_t rx_held;     /* buffers of the pool the receive chains hold */
};
int32_t pkt_info(int32_t port, struct pkt_info *out);

/* Sets the port up with one queue pair over `mp`'s buffers. */
int32_t pkt_configure(int32_t port, struct rte_mempool *mp, uint32_t nb_rxq, uint32_t nb_txq);
int32_t pkt_start(int32_t port);
int32_t pkt_stop(int32_t port);
/* Closes the socket and gives back every buffer the port holds. */
int32_t pkt_close(int32_t port);
int32_t pkt_mac(int32_t port, uint8_t *out6);
/* speed (Mbit/s), duplex, autoneg, status. */
int32_t pkt_link(int32_t port, uint32_t *out4);

struct pkt_stats {
	uint64_t ipackets, opackets, ibytes, obytes;
	uint64_t oerrors;      /* packets the kernel refused (dropped, counted) */
	uint64_t rx_nombuf;    /* received packets dropped: no buffers to refill the receive chains */
	uint64_t rx_vnet_bad;  /* dropped: a malformed vnet header, or longer than a chain holds */
	uint64_t kernel_drops; /* PACKET_STATISTICS tp_drops: the socket's queue was full */
};
int32_t pkt_stats(int32_t port, struct pkt_stats *out);
int32_t pkt_stats_reset(int32_t port);

/* Bursts, as rte_eth_rx_burst / rte_eth_tx_burst. */
uint16_t pkt_rx_burst(int32_t port, uint16_t queue, struct rte_mbuf **m, uint16_t n);
uint16_t pkt_tx_burst(int32_t port, uint16_t queue, struct rte_mbuf **m, uint16_t n);

#endif
