/*
 * packet_port: see packet_port.h. One AF_PACKET socket per port, bound to
 * the interface, with PACKET_VNET_HDR: every frame crosses with a
 * virtio_net_hdr in front of it, which carries the kernel's segmentation
 * (GSO) and checksum state, so a 64 KB TCP segment crosses as one packet
 * each way instead of 45 frames. One recvmmsg / sendmmsg per burst.
 *
 * Receive: each of PKT_RX_MSGS message slots holds a chain of buffers of
 * the port's pool, long enough for the largest packet (65535 bytes of IPv4
 * and the Ethernet header); recvmmsg scatters a packet over its slot's
 * buffers, the ones it filled leave as the packet's chain and fresh ones
 * take their place. The slots hold PKT_RX_MSGS chains of buffers while the
 * port is open; closing it gives them back.
 *
 * Transmit: a chain's links are the message's iovecs (the kernel copies
 * them into its skb; nothing is copied here), behind a virtio_net_hdr that
 * says GSO TCPV4 with the MSS for a segmentation request, and NEEDS_CSUM
 * (the kernel, or no one on a veth, completes the TCP checksum) wherever
 * the TCP checksum was asked of the port.
 */
#define _GNU_SOURCE
#include "packet_port.h"

#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_ether.h>

/* Messages per recvmmsg (each a slot holding a whole chain) and per sendmmsg. */
#define PKT_RX_MSGS 16
#define PKT_TX_MSGS 256
/* Links one receive chain may have: buffers of at least 1 KiB of room. */
#define PKT_LINKS_MAX 66
#define PKT_TX_IOV 4096
/* The longest packet a receive chain holds: IPv4's 65535 bytes behind an Ethernet header with a VLAN tag. */
#define PKT_FRAME_MAX (65535 + RTE_ETHER_HDR_LEN + 4)
/* Socket buffers (the kernel doubles them): about 120 GSO packets of 64 KB each way. */
#define PKT_RCVBUF (4 << 20)
#define PKT_SNDBUF (4 << 20)

struct pkt_port {
	int used;
	int fd;
	char name[32];
	char iface[IF_NAMESIZE];
	uint32_t if_index;
	uint8_t mac[6];
	int started;
	struct rte_mempool *mp;
	uint32_t room;  /* bytes of each receive buffer after its headroom */
	uint32_t links; /* buffers per receive chain */
	int slots_full; /* the receive slots hold their buffers */
	struct pkt_stats st;
	struct virtio_net_hdr rx_hdr[PKT_RX_MSGS];
	struct rte_mbuf *rx_m[PKT_RX_MSGS][PKT_LINKS_MAX];
	struct iovec rx_iov[PKT_RX_MSGS][1 + PKT_LINKS_MAX];
	struct mmsghdr rx_msg[PKT_RX_MSGS];
	struct virtio_net_hdr tx_hdr[PKT_TX_MSGS];
	struct mmsghdr tx_msg[PKT_TX_MSGS];
	struct iovec tx_iov[PKT_TX_IOV];
};

static struct pkt_port *ports[LUNA_PACKET_PORTS_MAX];
static char err_buf[512];

static int32_t pkt_fail(int32_t rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	return rc;
}

const char *pkt_error(void)
{
	return err_buf;
}

static struct pkt_port *get(int32_t port)
{
	if (!pkt_port_is(port))
		return NULL;
	struct pkt_port *p = ports[port - LUNA_PACKET_PORT_BASE];
	return p != NULL && p->used ? p : NULL;
}

int pkt_open(int32_t port)
{
	return get(port) != NULL;
}

const char *pkt_name(int32_t port)
{
	struct pkt_port *p = get(port);
	return p != NULL ? p->name : NULL;
}

int32_t pkt_find(const char *name)
{
	for (int i = 0; i < LUNA_PACKET_PORTS_MAX; i++)
		if (ports[i] != NULL && ports[i]->used && strcmp(ports[i]->name, name) == 0)
			return LUNA_PACKET_PORT_BASE + i;
	return -ENODEV;
}

static int if_ioctl(const char *iface, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", iface);
	int rc = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return rc;
}

/* IPv4 BIG TCP's limits (Linux 6.3), newer than some uapi headers. */
#define PKT_IFLA_GSO_IPV4_MAX_SIZE 63
#define PKT_IFLA_GRO_IPV4_MAX_SIZE 64

/*
 * The interface's largest IPv4 GSO and GRO packets (rtnetlink): above 64 KiB
 * (BIG TCP) a packet would not fit a receive chain, nor an IPv4 total length
 * that luna reads. 0 with both at most 65536 (or the kernel too old to say),
 * else -EINVAL with the message set.
 */
static int32_t check_gso_sizes(const char *iface, unsigned idx)
{
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return 0; /* no rtnetlink: the receive path counts what does not fit */
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = (int)idx;
	static char buf[32768];
	ssize_t n = -1;
	struct timeval tv = {.tv_sec = 2};
	(void)setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(s, &req, req.nh.nlmsg_len, 0) >= 0)
		n = recv(s, buf, sizeof(buf), 0);
	close(s);
	uint32_t sizes[2] = {0, 0};
	const char *names[2] = {"gso_ipv4_max_size", "gro_ipv4_max_size"};
	for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; n > 0 && NLMSG_OK(nh, (size_t)n);
	     nh = NLMSG_NEXT(nh, n)) {
		if (nh->nlmsg_type != RTM_NEWLINK)
			continue;
		struct ifinfomsg *ifi = NLMSG_DATA(nh);
		int len = (int)IFLA_PAYLOAD(nh);
		for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
			if (RTA_PAYLOAD(a) < sizeof(uint32_t))
				continue;
			if (a->rta_type == PKT_IFLA_GSO_IPV4_MAX_SIZE)
				memcpy(&sizes[0], RTA_DATA(a), sizeof(uint32_t));
			else if (a->rta_type == PKT_IFLA_GRO_IPV4_MAX_SIZE)
				memcpy(&sizes[1], RTA_DATA(a), sizeof(uint32_t));
		}
	}
	for (int i = 0; i < 2; i++)
		if (sizes[i] > 65536)
			return pkt_fail(-EINVAL,
					"packet port: interface '%s' has %s %u (BIG TCP): a packet: port takes IPv4 "
					"packets of at most 64 KiB (ip link set %s %s 65536)",
					iface, names[i], sizes[i], iface, names[i]);
	return 0;
}

int32_t pkt_attach(const char *devargs)
{
	/* luna_packetN,iface=IF */
	char name[32];
	const char *comma = strchr(devargs, ',');
	size_t nlen = comma != NULL ? (size_t)(comma - devargs) : strlen(devargs);
	if (nlen == 0 || nlen >= sizeof(name) || comma == NULL || strncmp(comma + 1, "iface=", 6) != 0)
		return pkt_fail(-EINVAL, "packet port: expected '%sN,iface=IFACE', got '%s'",
				LUNA_PACKET_DRIVER, devargs);
	memcpy(name, devargs, nlen);
	name[nlen] = '\0';
	const char *iface = comma + 7;
	if (*iface == '\0' || strlen(iface) >= IF_NAMESIZE || strchr(iface, ',') != NULL)
		return pkt_fail(-EINVAL, "packet port: bad interface name in '%s'", devargs);
	if (pkt_find(name) >= 0)
		return pkt_fail(-EEXIST, "packet port: '%s' is open already", name);
	int slot = -1;
	for (int i = 0; i < LUNA_PACKET_PORTS_MAX && slot < 0; i++)
		if (ports[i] == NULL || !ports[i]->used)
			slot = i;
	if (slot < 0)
		return pkt_fail(-ENOSPC, "packet port: at most %d open at once", LUNA_PACKET_PORTS_MAX);
	unsigned idx = if_nametoindex(iface);
	if (idx == 0)
		return pkt_fail(-ENODEV, "packet port: no interface '%s' in this network namespace", iface);
	struct ifreq ifr;
	int rc = if_ioctl(iface, SIOCGIFHWADDR, &ifr);
	if (rc < 0)
		return pkt_fail(rc, "packet port: '%s': MAC address: %s", iface, strerror(-rc));
	if (ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */)
		return pkt_fail(-EINVAL, "packet port: '%s' is not an Ethernet interface", iface);
	rc = check_gso_sizes(iface, idx);
	if (rc < 0)
		return rc;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pkt_fail(-errno, "packet port: AF_PACKET socket: %s", strerror(errno));
	int one = 1;
	int rcv = PKT_RCVBUF, snd = PKT_SNDBUF;
	const char *what = NULL;
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
		what = "PACKET_VNET_HDR";
	else if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		what = "PACKET_IGNORE_OUTGOING";
	else if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0 &&
		 setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) < 0)
		what = "SO_RCVBUF";
	else if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) < 0 &&
		 setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)) < 0)
		what = "SO_SNDBUF";
	if (what != NULL) {
		int e = errno;
		close(fd);
		return pkt_fail(-e, "packet port: '%s': %s: %s", iface, what, strerror(e));
	}
	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)idx;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int e = errno;
		close(fd);
		return pkt_fail(-e, "packet port: bind to '%s': %s", iface, strerror(e));
	}
	struct pkt_port *p = ports[slot];
	if (p == NULL) {
		p = calloc(1, sizeof(*p));
		if (p == NULL) {
			close(fd);
			return pkt_fail(-ENOMEM, "packet port: out of memory");
		}
		ports[slot] = p;
	} else {
		memset(p, 0, sizeof(*p));
	}
	p->used = 1;
	p->fd = fd;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->iface, sizeof(p->iface), "%s", iface);
	p->if_index = idx;
	memcpy(p->mac, ifr.ifr_hwaddr.sa_data, 6);
	return LUNA_PACKET_PORT_BASE + slot;
}

int32_t pkt_info(int32_t port, struct pkt_info *out)
{
	struct pkt_port *p = get(port);
	if (p == NULL)
		return -ENODEV;
	struct ifreq ifr;
	out->mtu = if_ioctl(p->iface, SIOCGIFMTU, &ifr) == 0 ? (uint32_t)ifr.ifr_mtu : 1500;
	out->if_index = p->if_index;
	out->frame_max = PKT_FRAME_MAX;
	out->started = (uint32_t)p->started;
	out->rx_held = p->slots_full ? PKT_RX_MSGS * p->links : 0;
	return 0;
}

static void slots_release(struct pkt_port *p)
{
	if (!p->slots_full)
		return;
	for (int i = 0; i < PKT_RX_MSGS; i++)
		rte_pktmbuf_free_bulk(p->rx_m[i], p->links);
	p->slots_full = 0;
}

/* Points slot i's message and iovecs at its buffers (the receive path re-aims the iovecs of the
 * buffers it takes; the message itself stays as set here, recvmmsg writes only its length and flags). */
static void slot_aim(struct pkt_port *p, int i)
{
	struct iovec *v = p->rx_iov[i];
	v[0].iov_base = &p->rx_hdr[i];
	v[0].iov_len = sizeof(struct virtio_net_hdr);
	for (uint32_t j = 0; j < p->links; j++) {
		v[1 + j].iov_base = rte_pktmbuf_mtod(p->rx_m[i][j], void *);
		v[1 + j].iov_len = p->room;
	}
	struct msghdr *h = &p->rx_msg[i].msg_hdr;
	memset(h, 0, sizeof(*h));
	h->msg_iov = v;
	h->msg_iovlen = 1 + p->links;
}

int32_t pkt_configure(int32_t port, struct rte_mempool *mp, uint32_t nb_rxq, uint32_t nb_txq)
{
	struct pkt_port *p = get(port);
	if (p == NULL)
		return pkt_fail(-ENODEV, "packet port %d is not open", port);
	if (nb_rxq != 1 || nb_txq != 1)
		return pkt_fail(-EINVAL, "%s: %u rx / %u tx queues asked, a packet port has 1 / 1", p->name,
				nb_rxq, nb_txq);
	uint32_t room = rte_pktmbuf_data_room_size(mp) - RTE_PKTMBUF_HEADROOM;
	uint32_t links = (PKT_FRAME_MAX + room - 1) / room;
	if (links > PKT_LINKS_MAX)
		return pkt_fail(-EINVAL, "%s: buffers of %u bytes: a receive chain of 64 KiB would need %u, at most %d",
				p->name, room, links, PKT_LINKS_MAX);
	slots_release(p);
	p->mp = mp;
	p->room = room;
	p->links = links;
	for (int i = 0; i < PKT_RX_MSGS; i++) {
		if (rte_pktmbuf_alloc_bulk(mp, p->rx_m[i], links) != 0) {
			for (int k = 0; k < i; k++)
				rte_pktmbuf_free_bulk(p->rx_m[k], links);
			return pkt_fail(-ENOMEM,
					"%s: the pool has too few free buffers for the receive chains (%u: %d of %u)",
					p->name, PKT_RX_MSGS * links, PKT_RX_MSGS, links);
		}
		slot_aim(p, i);
	}
	p->slots_full = 1;
	return 0;
}

int32_t pkt_start(int32_t port)
{
	struct pkt_port *p = get(port);
	if (p == NULL)
		return pkt_fail(-ENODEV, "packet port %d is not open", port);
	if (!p->slots_full)
		return pkt_fail(-EINVAL, "%s: configure it before starting it", p->name);
	/* Frames queued before the start are old: a DPDK port starts with empty rings too. */
	for (int k = 0; k < 4096; k++) {
		char b[64]; /* room for the vnet header, which a shorter read is refused for */
		if (recv(p->fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC) < 0)
			break;
	}
	p->started = 1;
	return 0;
}

int32_t pkt_stop(int32_t port)
{
	struct pkt_port *p = get(port);
	if (p == NULL)
		return pkt_fail(-ENODEV, "packet port %d is not open", port);
	p->started = 0;
	return 0;
}

int32_t pkt_close(int32_t port)
{
	struct pkt_port *p = get(port);
	if (p == NULL)
		return pkt_fail(-ENODEV, "packet port %d is not open", port);
	slots_release(p);
	close(p->fd);
	p->fd = -1;
	p->used = 0;
	p->started = 0;
	return 0;
}

int32_t pkt_mac(int32_t port, uint8_t *out6)
{
	struct pkt_port *p = get(port);
	if (p == NULL)
		return pkt_fail(-ENODEV, "packet port %d is not open", port);
	memcpy(out6, p->mac, 6);
	return 6;
}

int32_t pkt_link(int32_t port, uint32_t *out4)
{
	struct pkt_port *p = get(port);
	if (p == NULL)
		return pkt_fail(-ENODEV, "packet port %d is not open", port);
	struct ifreq ifr;
	int rc = if_ioctl(p->iface, SIOCGIFFLAGS, &ifr);
	if (rc < 0)
		return pkt_fail(rc, "%s: interface '%s': %s", p->name, p->iface, strerror(-rc));
	uint32_t speed = 0;
	char path[64];
	snprintf(path, sizeof(path), "/sys/class/net/%s/speed", p->iface);
	FILE *f = fopen(path, "r");
	if (f != NULL) {
		long s = 0;
		if (fscanf(f, "%ld", &s) == 1 && s > 0)
			speed = (uint32_t)s;
		fclose(f);
	}
	out4[0] = speed;
	out4[1] = 1;
	out4[2] = 0;
	out4[3] = (ifr.ifr_flags & IFF_RUNNING) != 0;
	return 4;
}

int32_t pkt_stats(int32_t port, struct pkt_stats *out)
{
	struct pkt_port *p = get(port);
	if (p == NULL)
		return pkt_fail(-ENODEV, "packet port %d is not open", port);
	/* PACKET_STATISTICS zeroes the kernel's counts as it reads them: added up here. */
	struct tpacket_stats ks;
	socklen_t len = sizeof(ks);
	if (getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0)
		p->st.kernel_drops += ks.tp_drops;
	*out = p->st;
	return 0;
}

int32_t pkt_stats_reset(int32_t port)
{
	struct pkt_port *p = get(port);
	if (p == NULL)
		return pkt_fail(-ENODEV, "packet port %d is not open", port);
	struct tpacket_stats ks;
	socklen_t len = sizeof(ks);
	(void)getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len);
	memset(&p->st, 0, sizeof(p->st));
	return 0;
}

/* Whether the header the kernel wrote fits a packet of `len` bytes. */
static inline int vnet_ok(const struct virtio_net_hdr *h, uint32_t len)
{
	uint8_t gt = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (gt != VIRTIO_NET_HDR_GSO_NONE) {
		if (gt != VIRTIO_NET_HDR_GSO_TCPV4 && gt != VIRTIO_NET_HDR_GSO_TCPV6)
			return 0;
		if (h->gso_size == 0 || h->hdr_len > len)
			return 0;
	}
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (uint32_t)h->csum_start + h->csum_offset + 2 > len)
		return 0;
	return 1;
}

/* The IPv4 header checksum's verdict, where the header lies in the first buffer; 0 otherwise. */
static inline uint64_t ip_verdict(const struct rte_mbuf *m)
{
	if (m->data_len < RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr))
		return 0;
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return 0;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
	uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
	if ((ip->version_ihl >> 4) != 4 || ihl < 20 || RTE_ETHER_HDR_LEN + ihl > m->data_len)
		return 0;
	return rte_raw_cksum(ip, ihl) == 0xffff ? RTE_MBUF_F_RX_IP_CKSUM_GOOD : RTE_MBUF_F_RX_IP_CKSUM_BAD;
}

uint16_t pkt_rx_burst(int32_t port, uint16_t queue, struct rte_mbuf **m, uint16_t n)
{
	struct pkt_port *p = get(port);
	if (unlikely(p == NULL || queue != 0 || !p->started || !p->slots_full))
		return 0;
	uint32_t cnt = n < PKT_RX_MSGS ? n : PKT_RX_MSGS;
	int r = recvmmsg(p->fd, p->rx_msg, cnt, MSG_DONTWAIT, NULL);
	if (r <= 0)
		return 0;
	uint16_t out = 0;
	struct rte_mbuf *fresh[PKT_LINKS_MAX];
	for (int i = 0; i < r; i++) {
		uint32_t len = p->rx_msg[i].msg_len;
		const struct virtio_net_hdr *vh = &p->rx_hdr[i];
		if (unlikely(len < sizeof(*vh) + RTE_ETHER_HDR_LEN || (p->rx_msg[i].msg_hdr.msg_flags & MSG_TRUNC))) {
			p->st.rx_vnet_bad++;
			continue;
		}
		len -= sizeof(*vh);
		if (unlikely(!vnet_ok(vh, len))) {
			p->st.rx_vnet_bad++;
			continue;
		}
		uint32_t need = (len + p->room - 1) / p->room;
		if (unlikely(rte_pktmbuf_alloc_bulk(p->mp, fresh, need) != 0)) {
			p->st.rx_nombuf++; /* the slot keeps its buffers; the packet is lost */
			continue;
		}
		struct rte_mbuf *head = p->rx_m[i][0];
		struct rte_mbuf *prev = NULL;
		uint32_t left = len;
		for (uint32_t j = 0; j < need; j++) {
			struct rte_mbuf *s = p->rx_m[i][j];
			s->data_len = (uint16_t)(left < p->room ? left : p->room);
			left -= s->data_len;
			s->next = NULL;
			if (prev != NULL)
				prev->next = s;
			prev = s;
			p->rx_m[i][j] = fresh[j];
			p->rx_iov[i][1 + j].iov_base = rte_pktmbuf_mtod(fresh[j], void *);
		}
		head->nb_segs = (uint16_t)need;
		head->pkt_len = len;
		head->packet_type = 0;
		uint64_t ol = ip_verdict(head);
		if (vh->flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
			ol |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
			ol |= RTE_MBUF_F_RX_LRO;
			head->tso_segsz = vh->gso_size;
		}
		head->ol_flags = ol;
		p->st.ipackets++;
		p->st.ibytes += len;
		m[out++] = head;
	}
	return out;
}

/* Fills h for packet mb as its offload flags ask; 0, or -1 when its headers do not fit its first buffer. */
static inline int vnet_fill(struct virtio_net_hdr *h, struct rte_mbuf *mb)
{
	memset(h, 0, sizeof(*h));
	uint64_t ol = mb->ol_flags;
	uint64_t l4 = ol & RTE_MBUF_F_TX_L4_MASK;
	if (!(ol & (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IP_CKSUM)) && l4 == 0)
		return 0;
	uint32_t l2 = mb->l2_len, l3 = mb->l3_len;
	uint32_t l4len = (ol & RTE_MBUF_F_TX_TCP_SEG) || l4 == RTE_MBUF_F_TX_TCP_CKSUM ? 20 : l4 != 0 ? 8 : 0;
	if (l2 + l3 + l4len > mb->data_len || l3 < 20)
		return -1;
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(mb, struct rte_ipv4_hdr *, l2);
	if (ol & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_SEG)) {
		/* The kernel checks it on arrival (and sets each segment's when it cuts them). */
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	if ((ol & RTE_MBUF_F_TX_TCP_SEG) || l4 == RTE_MBUF_F_TX_TCP_CKSUM || l4 == RTE_MBUF_F_TX_UDP_CKSUM) {
		int tcp = l4 != RTE_MBUF_F_TX_UDP_CKSUM;
		uint16_t *ck = (uint16_t *)((char *)ip + l3 + (tcp ? 16 : 6));
		/* The pseudo-header sum with the length, as the kernel's own partial
		 * checksums hold it (its segmentation adjusts it per segment); DPDK's
		 * TSO contract leaves the length out. */
		*ck = rte_ipv4_phdr_cksum(ip, 0);
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = (uint16_t)(l2 + l3);
		h->csum_offset = tcp ? 16 : 6;
	}
	if (ol & RTE_MBUF_F_TX_TCP_SEG) {
		const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)((char *)ip + l3);
		h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		if (th->tcp_flags & RTE_TCP_CWR_FLAG)
			h->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
		h->gso_size = mb->tso_segsz;
		h->hdr_len = (uint16_t)(l2 + l3 + mb->l4_len);
	}
	return 0;
}

uint16_t pkt_tx_burst(int32_t port, uint16_t queue, struct rte_mbuf **m, uint16_t n)
{
	struct pkt_port *p = get(port);
	if (unlikely(p == NULL || queue != 0 || !p->started))
		return 0;
	uint32_t cnt = n < PKT_TX_MSGS ? n : PKT_TX_MSGS;
	uint32_t used = 0, k = 0;
	for (; k < cnt; k++) {
		struct rte_mbuf *mb = m[k];
		if (used + 1 + mb->nb_segs > PKT_TX_IOV)
			break;
		struct iovec *v = p->tx_iov + used;
		uint32_t nv = 0;
		if (unlikely(vnet_fill(&p->tx_hdr[k], mb) < 0))
			memset(&p->tx_hdr[k], 0xff, sizeof(p->tx_hdr[k])); /* refused below, by the kernel */
		v[nv].iov_base = &p->tx_hdr[k];
		v[nv++].iov_len = sizeof(struct virtio_net_hdr);
		for (struct rte_mbuf *s = mb; s != NULL; s = s->next) {
			if (s->data_len == 0)
				continue;
			v[nv].iov_base = rte_pktmbuf_mtod(s, void *);
			v[nv++].iov_len = s->data_len;
		}
		struct msghdr *h = &p->tx_msg[k].msg_hdr;
		memset(h, 0, sizeof(*h));
		h->msg_iov = v;
		h->msg_iovlen = nv;
		used += nv;
	}
	uint32_t done = 0;
	/* Bounded: each round sends at least one message or drops one. */
	for (uint32_t round = 0; done < k && round <= k; round++) {
		int r = sendmmsg(p->fd, p->tx_msg + done, k - done, MSG_DONTWAIT);
		if (r > 0) {
			for (int i = 0; i < r; i++) {
				p->st.opackets++;
				p->st.obytes += m[done + i]->pkt_len;
			}
			rte_pktmbuf_free_bulk(m + done, (unsigned)r);
			done += (uint32_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR))
			break; /* full: the caller keeps the rest */
		/* The kernel refused this packet (a malformed one): dropped, counted. */
		p->st.oerrors++;
		rte_pktmbuf_free(m[done]);
		done++;
	}
	return (uint16_t)done;
}
