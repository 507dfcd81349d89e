// echo_client: the kernel-side load generator of `bun run bench`.
//
// One thread, non-blocking sockets on one epoll set, busy-polled (epoll_wait
// with timeout 0) so that the client's own wake-ups never limit or colour
// what it measures; pin it to a core of its own. Modes:
//
//   echo      CONNS connections in a closed loop: send SIZE bytes, wait for
//             them back, send again. Requests/s and latency percentiles.
//   connrate  CONNS at a time: connect, send SIZE bytes, read them back,
//             close; then the next. Connections/s. Source addresses rotate
//             over --src (bound with IP_BIND_ADDRESS_NO_PORT) so that one
//             address's TIME-WAIT ports do not limit the rate.
//   bulk      one connection sends BYTES, half-closes and waits for the peer
//             to close: timed from the first byte to that close. Gbit/s.
//   storage   the echo loop with a storage-shaped answer: each SIZE-byte
//             request carries in its first 4 bytes (little-endian) the size
//             of the answer, --resp bytes (4 KiB, 64 KiB: a block read).
//             Operations/s, Gbit/s of answers and latency percentiles.
//   http      the echo loop speaking HTTP/1.1 with keep-alive: each
//             connection sends `GET /hello HTTP/1.1` (Host: bench), waits
//             for the whole answer, sends again. The answer's length is
//             learned from a first exchange on the first connection (head
//             up to the empty line, then Content-Length; status 200
//             required) and must be the same for every answer (a server's
//             Date field keeps its length). Requests/s and latency.
//   idle      opens CONNS connections (at most --inflight handshakes at a
//             time, giving up after --timeout seconds), source addresses
//             rotating over --src, prints "IDLE {...}" (how many were
//             established, in how long), then holds them idle until stdin
//             ends or says "quit" (or --hold seconds pass), counts how many
//             are still open (not closed or reset by the peer) and prints
//             "RESULT {...}". Raises RLIMIT_NOFILE to what CONNS needs.
//
// Latency is taken with clock_gettime(CLOCK_MONOTONIC) in ns; every sample of
// the measured stretch is kept and sorted. One JSON object is printed on a
// line of its own, prefixed "RESULT ".
//
// Usage: echo_client --mode echo|connrate|bulk|storage|http|idle --addr A --port P [--conns N]
//          [--size B] [--resp B] [--warmup S] [--duration S] [--bytes N] [--src A,B,...]
//          [--inflight N] [--timeout S] [--hold S]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static const char *opt_mode = "echo";
static const char *opt_addr = "127.0.0.1";
static int opt_port = 7;
static int opt_conns = 1;
static int opt_size = 64;
static double opt_warmup = 0.3;
static double opt_duration = 1.0;
static long long opt_bytes = 1LL << 28;
static int opt_resp = 0; // storage: bytes of each answer (0: echo, the answer is the request)
static int opt_inflight = 256;  // idle: handshakes at a time
static double opt_timeout = 60; // idle: seconds to open them all
static double opt_hold = 600;   // idle: seconds to hold them at most
static int opt_http = 0; // http: the request is http_req, the answer http_resp bytes long
static const char http_req[] = "GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n";
static struct in_addr src_addrs[64];
static int n_src = 0;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  printf("FAIL {\"error\":\"%s: %s\"}\n", what, strerror(errno));
  fflush(stdout);
  exit(1);
}

static struct sockaddr_in peer;

static int open_socket(int nonblocking, int src) {
  int fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (n_src > 0) {
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = src_addrs[src % n_src]};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  }
  return fd;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static const double fractions[] = {0.001, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
                                   0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999,
                                   0.9999};

static uint32_t at_fraction(const uint32_t *s, size_t n, double f) {
  if (n == 0) return 0;
  double k = f * (double)n;
  size_t i = (size_t)k;
  if ((double)i < k) i++; // ceil
  if (i > 0) i--;
  if (i >= n) i = n - 1;
  return s[i];
}

static void print_latency(uint32_t *s, size_t n) {
  qsort(s, n, sizeof *s, cmp_u32);
  printf(",\"samples\":%zu,\"p50_ns\":%u,\"p99_ns\":%u,\"p999_ns\":%u,\"cdf\":[", n, at_fraction(s, n, 0.5),
         at_fraction(s, n, 0.99), at_fraction(s, n, 0.999));
  if (n > 0) {
    printf("[%u,0]", s[0]);
    for (size_t i = 0; i < sizeof fractions / sizeof *fractions; i++)
      printf(",[%u,%g]", at_fraction(s, n, fractions[i]), fractions[i]);
    printf(",[%u,1]", s[n - 1]);
  }
  printf("]");
}

// ---------------------------------------------------------------- echo

struct conn {
  int fd;
  int got;      // bytes of the current answer received
  int sent;     // bytes of the current request sent
  uint64_t t0;  // when the current request was sent
  uint32_t seq; // requests sent, written into the request's first bytes
  int done;     // connrate: answered and closed
};

static void send_request(struct conn *c, char *buf) {
  c->seq++;
  if (opt_http) {
    c->t0 = now_ns();
    c->got = 0;
    ssize_t n = send(c->fd, http_req, sizeof http_req - 1, MSG_NOSIGNAL);
    if (n != (ssize_t)(sizeof http_req - 1)) die("send (short or failed)");
    c->sent = (int)n;
    return;
  }
  if (opt_resp > 0) {
    uint32_t want = (uint32_t)opt_resp; // little-endian on every machine this runs on
    memcpy(buf, &want, sizeof want);
    if (opt_size >= 8) memcpy(buf + 4, &c->seq, sizeof c->seq);
  } else {
    memcpy(buf, &c->seq, sizeof c->seq);
  }
  c->t0 = now_ns();
  c->got = 0;
  ssize_t n = send(c->fd, buf, (size_t)opt_size, MSG_NOSIGNAL);
  if (n != opt_size) die("send (short or failed)");
  c->sent = opt_size;
}

// http: one exchange on `c`, read whole; returns the answer's length and its last byte.
static int http_probe(struct conn *c, char *buf, int cap, char *last) {
  send_request(c, buf);
  int got = 0;
  uint64_t end = now_ns() + 5000000000ull;
  while (now_ns() < end) {
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t r = recv(c->fd, buf + got, (size_t)(cap - 1 - got), 0);
    if (r == 0) {
      errno = ECONNRESET;
      die("http probe: peer closed");
    }
    if (r < 0) {
      if (errno == EAGAIN) continue;
      die("http probe: recv");
    }
    got += (int)r;
    buf[got] = 0;
    char *eoh = strstr(buf, "\r\n\r\n");
    if (eoh == NULL) {
      if (got >= cap - 1) break;
      continue;
    }
    if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0) break;
    long cl = -1;
    for (char *l = strstr(buf, "\r\n"); l != NULL && l < eoh; l = strstr(l + 2, "\r\n"))
      if (strncasecmp(l + 2, "content-length:", 15) == 0) cl = strtol(l + 17, NULL, 10);
    if (cl < 0) break;
    int total = (int)(eoh + 4 - buf) + (int)cl;
    if (got > total) break;
    if (got == total) {
      *last = buf[total - 1];
      return total;
    }
  }
  printf("FAIL {\"error\":\"http probe: no 200 answer with a Content-Length within 5 s\"}\n");
  exit(1);
}

static int run_echo(void) {
  int ep = epoll_create1(0);
  struct conn *cs = calloc((size_t)opt_conns, sizeof *cs);
  char *req = malloc((size_t)opt_size);
  char *rbuf = malloc(65536);
  memset(req, 0x5a, (size_t)opt_size);
  for (int i = 0; i < opt_conns; i++) {
    cs[i].fd = open_socket(0, i);
    if (connect(cs[i].fd, (struct sockaddr *)&peer, sizeof peer) < 0) die("connect");
    fcntl(cs[i].fd, F_SETFL, fcntl(cs[i].fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }
  size_t cap = 1u << 24, nlat = 0;
  uint32_t *lat = malloc(cap * sizeof *lat);
  long long done = 0, errors = 0;
  char http_last = 0;
  int expect = opt_resp > 0 ? opt_resp : opt_size;
  if (opt_http) expect = http_probe(&cs[0], rbuf, 65536, &http_last);
  for (int i = 0; i < opt_conns; i++) send_request(&cs[i], req);
  uint64_t start = now_ns();
  uint64_t t0 = start + (uint64_t)(opt_warmup * 1e9);
  uint64_t t1 = t0 + (uint64_t)(opt_duration * 1e9);
  int measuring = 0;
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, 0);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int k = 0; k < n; k++) {
      struct conn *c = &cs[evs[k].data.u32];
      ssize_t r = recv(c->fd, rbuf, 65536, 0);
      if (r == 0) {
        errno = ECONNRESET;
        die("peer closed");
      }
      if (r < 0) {
        if (errno == EAGAIN) continue;
        die("recv");
      }
      if (!opt_http && opt_resp == 0 && c->got == 0 && r >= 4 && memcmp(rbuf, &c->seq, 4) != 0) errors++;
      if (opt_http && c->got + r == expect && rbuf[r - 1] != http_last) errors++;
      c->got += (int)r;
      if (c->got >= expect) {
        if (c->got > expect) errors++;
        uint64_t now = now_ns();
        if (measuring) {
          done++;
          if (nlat < cap) lat[nlat++] = (uint32_t)(now - c->t0 > UINT32_MAX ? UINT32_MAX : now - c->t0);
        }
        send_request(c, req);
      }
    }
    uint64_t now = now_ns();
    if (!measuring && now >= t0 && now < t1) {
      measuring = 1;
      t0 = now;
    }
    if (now >= t1) {
      t1 = now;
      break;
    }
  }
  double secs = (double)(t1 - t0) / 1e9;
  printf("RESULT {\"workload\":\"%s\",\"conns\":%d,\"requests\":%lld,\"seconds\":%.6f,\"req_per_s\":%.1f,"
         "\"resp\":%d,\"gbit_per_s\":%.3f,\"errors\":%lld",
         opt_http ? "http" : opt_resp > 0 ? "storage" : "echo", opt_conns, done, secs, (double)done / secs, expect,
         (double)done * expect * 8 / secs / 1e9, errors);
  print_latency(lat, nlat);
  printf("}\n");
  for (int i = 0; i < opt_conns; i++) close(cs[i].fd);
  return 0;
}

// ------------------------------------------------------------ connrate

static int cr_ep;
static struct conn *cr_conns;
static int cr_next_src;
static long long cr_started;

// Opens slot i's next connection; got < 0 while it connects.
static void cr_start(int i) {
  struct conn *c = &cr_conns[i];
  c->fd = open_socket(1, cr_next_src++);
  if (connect(c->fd, (struct sockaddr *)&peer, sizeof peer) < 0 && errno != EINPROGRESS) die("connect");
  c->got = -1;
  c->sent = 0;
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)i};
  epoll_ctl(cr_ep, EPOLL_CTL_ADD, c->fd, &ev);
  cr_started++;
}

static int run_connrate(void) {
  int ep = cr_ep = epoll_create1(0);
  struct conn *cs = cr_conns = calloc((size_t)opt_conns, sizeof *cs);
  char *req = malloc((size_t)opt_size);
  char rbuf[65536];
  memset(req, 0x5a, (size_t)opt_size);
  long long completed = 0, failed = 0;
  int last_errno = 0;
  for (int i = 0; i < opt_conns; i++) cr_start(i);
  uint64_t start_ns = now_ns();
  uint64_t t0 = start_ns + (uint64_t)(opt_warmup * 1e9);
  uint64_t t1 = t0 + (uint64_t)(opt_duration * 1e9);
  int measuring = 0;
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, 0);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int k = 0; k < n; k++) {
      int i = (int)evs[k].data.u32;
      struct conn *c = &cs[i];
      int restart = 0;
      if (c->got < 0) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          failed++;
          last_errno = err;
          restart = 1;
        } else if (evs[k].events & EPOLLOUT) {
          c->got = 0;
          struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
          if (send(c->fd, req, (size_t)opt_size, MSG_NOSIGNAL) != opt_size) {
            failed++;
            last_errno = errno;
            restart = 1;
          }
        }
      } else {
        ssize_t r = recv(c->fd, rbuf, sizeof rbuf, 0);
        if (r < 0 && errno == EAGAIN) continue;
        if (r <= 0) {
          failed++;
          last_errno = r < 0 ? errno : ECONNRESET;
          restart = 1;
        } else {
          c->got += (int)r;
          if (c->got >= opt_size) {
            if (measuring) completed++;
            restart = 1;
          }
        }
      }
      if (restart) {
        close(c->fd); // an active close: the TIME-WAIT is ours
        cr_start(i);
      }
    }
    uint64_t now = now_ns();
    if (!measuring && now >= t0 && now < t1) {
      measuring = 1;
      t0 = now;
    }
    if (now >= t1) {
      t1 = now;
      break;
    }
  }
  double secs = (double)(t1 - t0) / 1e9;
  printf("RESULT {\"workload\":\"connrate\",\"conns\":%d,\"connections\":%lld,\"seconds\":%.6f,"
         "\"conn_per_s\":%.1f,\"failed\":%lld,\"lastError\":\"%s\",\"started\":%lld}\n",
         opt_conns, completed, secs, (double)completed / secs, failed, last_errno ? strerror(last_errno) : "",
         cr_started);
  for (int i = 0; i < opt_conns; i++) close(cs[i].fd);
  return 0;
}

// ---------------------------------------------------------------- bulk

static int run_bulk(void) {
  int fd = open_socket(0, 0);
  if (connect(fd, (struct sockaddr *)&peer, sizeof peer) < 0) die("connect");
  size_t chunk = 1u << 18;
  char *buf = malloc(chunk);
  memset(buf, 0x42, chunk);
  long long sent = 0;
  uint64_t t0 = now_ns();
  while (sent < opt_bytes) {
    size_t want = (size_t)(opt_bytes - sent < (long long)chunk ? opt_bytes - sent : (long long)chunk);
    ssize_t n = send(fd, buf, want, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("send");
    }
    sent += n;
  }
  shutdown(fd, SHUT_WR);
  char rbuf[4096];
  for (;;) {
    ssize_t r = recv(fd, rbuf, sizeof rbuf, 0);
    if (r == 0) break;
    if (r < 0) {
      if (errno == EINTR) continue;
      die("recv after shutdown");
    }
  }
  uint64_t t1 = now_ns();
  double secs = (double)(t1 - t0) / 1e9;
  printf("RESULT {\"workload\":\"bulk\",\"bytes\":%lld,\"seconds\":%.6f,\"gbit_per_s\":%.3f,\"finished\":true}\n", sent,
         secs, (double)sent * 8 / secs / 1e9);
  close(fd);
  return 0;
}

// ---------------------------------------------------------------- idle

static int run_idle(void) {
  // Descriptors for every connection: the soft limit up to what is needed, or to the hard
  // limit where raising that is not allowed (then the opens stop at EMFILE, counted as failed).
  struct rlimit cur;
  getrlimit(RLIMIT_NOFILE, &cur);
  rlim_t need = (rlim_t)opt_conns + 64;
  if (cur.rlim_cur < need) {
    struct rlimit rl = {.rlim_cur = need, .rlim_max = cur.rlim_max > need ? cur.rlim_max : need};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
      rl.rlim_cur = cur.rlim_max;
      rl.rlim_max = cur.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  int emfile = 0;
  int ep = epoll_create1(0);
  int *fds = malloc((size_t)opt_conns * sizeof *fds);
  long long started = 0, established = 0, failed = 0;
  int last_errno = 0;
  struct epoll_event evs[256];
  uint64_t t0 = now_ns();
  uint64_t deadline = t0 + (uint64_t)(opt_timeout * 1e9);
  uint64_t now = t0;
  while (established + failed < (emfile ? started : opt_conns) && now < deadline) {
    while (!emfile && started < opt_conns && started - established - failed < opt_inflight) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (fd < 0) {
        // Out of descriptors (or kernel memory): no more opens.
        emfile = 1;
        last_errno = errno;
        break;
      }
      int i = (int)started++;
      int one = 1;
      if (n_src > 0) {
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = src_addrs[i % n_src]};
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
      }
      fds[i] = fd;
      if (connect(fd, (struct sockaddr *)&peer, sizeof peer) < 0 && errno != EINPROGRESS) {
        failed++;
        last_errno = errno;
        close(fd);
        fds[i] = -1;
        continue;
      }
      struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    int n = epoll_wait(ep, evs, 256, 1);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int k = 0; k < n; k++) {
      int i = (int)evs[k].data.u32;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len);
      epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
      if (err != 0) {
        failed++;
        last_errno = err;
        close(fds[i]);
        fds[i] = -1;
      } else {
        established++;
      }
    }
    now = now_ns();
  }
  double secs = (double)(now - t0) / 1e9;
  // Handshakes still in flight at the deadline are not established: dropped.
  for (long long i = 0; i < started; i++) {
    if (fds[i] < 0) continue;
    struct pollfd pf = {.fd = fds[i], .events = POLLOUT};
    if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLOUT) && !(pf.revents & (POLLERR | POLLHUP))) continue;
    close(fds[i]);
    fds[i] = -1;
  }
  printf("IDLE {\"asked\":%d,\"started\":%lld,\"established\":%lld,\"failed\":%lld,\"lastError\":\"%s\","
         "\"seconds\":%.3f,\"conn_per_s\":%.1f,\"timedOut\":%s,\"outOfDescriptors\":%s,\"inflight\":%d,"
         "\"nofile\":%llu}\n",
         opt_conns, started, established, failed, last_errno ? strerror(last_errno) : "", secs,
         (double)established / secs, established + failed < (emfile ? started : opt_conns) ? "true" : "false", emfile ? "true" : "false",
         opt_inflight, (unsigned long long)cur.rlim_max);
  // Hold them until stdin ends or says quit, or the hold time passes.
  uint64_t hold_end = now_ns() + (uint64_t)(opt_hold * 1e9);
  char line[256];
  size_t have = 0;
  for (;;) {
    uint64_t t = now_ns();
    if (t >= hold_end) break;
    struct pollfd pf = {.fd = 0, .events = POLLIN};
    int ms = (int)((hold_end - t) / 1000000 + 1);
    if (poll(&pf, 1, ms > 1000 ? 1000 : ms) <= 0) continue;
    ssize_t r = read(0, line + have, sizeof line - 1 - have);
    if (r <= 0) break;
    have += (size_t)r;
    line[have] = 0;
    if (strstr(line, "quit")) break;
    if (have >= sizeof line - 1) have = 0;
  }
  // Still open: no FIN, reset or error from the peer while they were held.
  long long open_ = 0, closed = 0, with_data = 0;
  char b;
  for (long long i = 0; i < started; i++) {
    if (fds[i] < 0) continue;
    ssize_t r = recv(fds[i], &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r > 0) with_data++;
    if (r > 0 || (r < 0 && errno == EAGAIN)) open_++;
    else closed++;
  }
  printf("RESULT {\"workload\":\"idle\",\"established\":%lld,\"open\":%lld,\"closed\":%lld,\"withData\":%lld}\n",
         established, open_, closed, with_data);
  return 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--mode")) opt_mode = v;
    else if (!strcmp(k, "--addr")) opt_addr = v;
    else if (!strcmp(k, "--port")) opt_port = atoi(v);
    else if (!strcmp(k, "--conns")) opt_conns = atoi(v);
    else if (!strcmp(k, "--size")) opt_size = atoi(v);
    else if (!strcmp(k, "--warmup")) opt_warmup = atof(v);
    else if (!strcmp(k, "--duration")) opt_duration = atof(v);
    else if (!strcmp(k, "--bytes")) opt_bytes = atoll(v);
    else if (!strcmp(k, "--resp")) opt_resp = atoi(v);
    else if (!strcmp(k, "--inflight")) opt_inflight = atoi(v);
    else if (!strcmp(k, "--timeout")) opt_timeout = atof(v);
    else if (!strcmp(k, "--hold")) opt_hold = atof(v);
    else if (!strcmp(k, "--src")) {
      char *list = strdup(v);
      for (char *tok = strtok(list, ","); tok && n_src < 64; tok = strtok(NULL, ","))
        if (inet_pton(AF_INET, tok, &src_addrs[n_src]) == 1) n_src++;
      free(list);
    } else {
      fprintf(stderr, "unknown option %s\n", k);
      return 2;
    }
  }
  int idle = !strcmp(opt_mode, "idle");
  if (opt_conns < 1 || opt_conns > (idle ? 4000000 : 65536) || opt_inflight < 1 || opt_size < 4 || opt_size > 65536 || opt_resp < 0 ||
      opt_resp > (1 << 24)) {
    fprintf(stderr, "bad --conns, --size or --resp\n");
    return 2;
  }
  peer.sin_family = AF_INET;
  peer.sin_port = htons((uint16_t)opt_port);
  if (inet_pton(AF_INET, opt_addr, &peer.sin_addr) != 1) {
    fprintf(stderr, "bad --addr %s\n", opt_addr);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!strcmp(opt_mode, "echo")) {
    opt_resp = 0;
    return run_echo();
  }
  if (!strcmp(opt_mode, "storage")) {
    if (opt_resp <= 0) opt_resp = 4096;
    return run_echo();
  }
  if (!strcmp(opt_mode, "http")) {
    opt_http = 1;
    opt_resp = 0;
    return run_echo();
  }
  if (!strcmp(opt_mode, "connrate")) return run_connrate();
  if (idle) return run_idle();
  if (!strcmp(opt_mode, "bulk")) return run_bulk();
  fprintf(stderr, "unknown --mode %s\n", opt_mode);
  return 2;
}
