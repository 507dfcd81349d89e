// epoll_server: the kernel's TCP at its best, the C baseline of `bun run bench`.
//
// The same three services as bench/kernel_server.mjs, written the way a C
// server on epoll is: one thread, non-blocking sockets, level-triggered
// epoll, TCP_NODELAY on echo and storage.
//
//   port PORT:   echo (what arrives goes back; the peer's FIN is answered with ours)
//   port PORT+2: sink (what arrives is dropped; the peer's FIN answered likewise)
//   port PORT+4: storage (each 64-byte request is answered by as many bytes as
//                its first 4 bytes say, little-endian, at most 1 MiB: a block read)
//
// With --busy it never sleeps: epoll_wait with timeout 0 in a loop, and
// SO_BUSY_POLL (50 µs) on every socket, so that a wake-up never stands between
// a packet and its answer. Without it, epoll_wait blocks as usual.
//
// Prints READY once all three listen; exits on SIGINT, SIGTERM, a "quit" line
// or the end of stdin.
//
// Usage: epoll_server ADDRESS PORT [--busy]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_BUSY_POLL
#define SO_BUSY_POLL 46
#endif

enum kind { K_ECHO, K_SINK, K_STORAGE };

#define REQUEST_BYTES 64
#define MAX_ANSWER (1 << 20)

struct conn {
  int open;
  enum kind kind;
  // echo: bytes received and not yet sent back (the socket did not take them)
  unsigned char *pend;
  size_t pend_len, pend_cap;
  // storage: the request being parsed, and answer bytes still to send
  int have;
  uint32_t size;
  uint64_t owed;
};

static struct conn *conns;
static int max_fds;
static int ep;
static int busy;
static volatile sig_atomic_t stop;
static unsigned char rbuf[1 << 18];
static unsigned char answer[MAX_ANSWER];

static void die(const char *what) {
  fprintf(stderr, "epoll_server: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void watch(int fd, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  if (epoll_ctl(ep, op, fd, &ev) < 0) die("epoll_ctl");
}

static int listen_on(const char *addr, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
    fprintf(stderr, "epoll_server: bad address %s\n", addr);
    exit(2);
  }
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(fd, 4096) < 0) die("listen");
  watch(fd, EPOLLIN, EPOLL_CTL_ADD);
  return fd;
}

static void drop(int fd) {
  struct conn *c = &conns[fd];
  free(c->pend);
  memset(c, 0, sizeof *c);
  close(fd); // the peer's FIN is answered with ours
}

// Sends what `c` still owes; returns 0 when all of it went, 1 when the socket is full, -1 on error.
static int flush(int fd, struct conn *c) {
  if (c->kind == K_ECHO) {
    while (c->pend_len > 0) {
      ssize_t n = send(fd, c->pend, c->pend_len, MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN ? 1 : -1;
      memmove(c->pend, c->pend + n, c->pend_len - (size_t)n);
      c->pend_len -= (size_t)n;
    }
    return 0;
  }
  while (c->owed > 0) {
    size_t want = c->owed < MAX_ANSWER ? (size_t)c->owed : MAX_ANSWER;
    ssize_t n = send(fd, answer, want, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN ? 1 : -1;
    c->owed -= (uint64_t)n;
  }
  return 0;
}

static void keep(struct conn *c, const unsigned char *d, size_t n) {
  if (c->pend_len + n > c->pend_cap) {
    size_t cap = c->pend_cap ? c->pend_cap : 4096;
    while (cap < c->pend_len + n) cap *= 2;
    unsigned char *p = realloc(c->pend, cap);
    if (p == NULL) die("realloc");
    c->pend = p;
    c->pend_cap = cap;
  }
  memcpy(c->pend + c->pend_len, d, n);
  c->pend_len += n;
}

static void parse(struct conn *c, const unsigned char *d, size_t n) {
  for (size_t i = 0; i < n;) {
    size_t take = n - i < (size_t)(REQUEST_BYTES - c->have) ? n - i : (size_t)(REQUEST_BYTES - c->have);
    for (size_t k = 0; k < take && c->have + (int)k < 4; k++)
      c->size |= (uint32_t)d[i + k] << (8 * (c->have + k));
    c->have += (int)take;
    i += take;
    if (c->have == REQUEST_BYTES) {
      c->owed += c->size < MAX_ANSWER ? c->size : MAX_ANSWER;
      c->have = 0;
      c->size = 0;
    }
  }
}

static void readable(int fd) {
  struct conn *c = &conns[fd];
  for (;;) {
    // Echo with bytes the socket did not take: read no more until they went (EPOLLOUT).
    if (c->kind == K_ECHO && c->pend_len > 0) return;
    ssize_t n = recv(fd, rbuf, sizeof rbuf, 0);
    if (n == 0) {
      drop(fd);
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN) return;
      drop(fd);
      return;
    }
    if (c->kind == K_SINK) continue;
    if (c->kind == K_ECHO) {
      ssize_t w = send(fd, rbuf, (size_t)n, MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN) {
        drop(fd);
        return;
      }
      if (w < n) {
        keep(c, rbuf + (w > 0 ? w : 0), (size_t)(n - (w > 0 ? w : 0)));
        watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
        return;
      }
    } else {
      parse(c, rbuf, (size_t)n);
      int r = flush(fd, c);
      if (r < 0) {
        drop(fd);
        return;
      }
      if (r > 0) {
        watch(fd, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
        return;
      }
    }
  }
}

static void writable(int fd) {
  struct conn *c = &conns[fd];
  int r = flush(fd, c);
  if (r < 0) drop(fd);
  else if (r == 0) watch(fd, EPOLLIN, EPOLL_CTL_MOD);
}

static void accept_all(int lfd, enum kind kind) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EAGAIN || errno == ECONNABORTED || errno == EINTR) return;
      if (errno == EMFILE || errno == ENFILE) return; // the next accept may find one free
      die("accept4");
    }
    if (fd >= max_fds) {
      close(fd);
      continue;
    }
    int one = 1;
    if (kind != K_SINK) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (busy) {
      int us = 50;
      setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof us);
    }
    struct conn *c = &conns[fd];
    memset(c, 0, sizeof *c);
    c->open = 1;
    c->kind = kind;
    watch(fd, EPOLLIN, EPOLL_CTL_ADD);
  }
}

int main(int argc, char **argv) {
  if (argc < 3 || (argc == 4 && strcmp(argv[3], "--busy") != 0) || argc > 4) {
    fprintf(stderr, "usage: epoll_server ADDRESS PORT [--busy]\n");
    return 2;
  }
  const char *addr = argv[1];
  int port = atoi(argv[2]);
  if (port < 1 || port > 65535 - 4) {
    fprintf(stderr, "epoll_server: bad port %s\n", argv[2]);
    return 2;
  }
  busy = argc == 4;
  memset(answer, 0xa5, sizeof answer);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    max_fds = rl.rlim_cur > (1 << 20) ? (1 << 20) : (int)rl.rlim_cur;
  } else {
    max_fds = 1024;
  }
  conns = calloc((size_t)max_fds, sizeof *conns);
  if (conns == NULL) die("calloc");
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  int lecho = listen_on(addr, port);
  int lsink = listen_on(addr, port + 2);
  int lstorage = listen_on(addr, port + 4);
  // stdin, where it can be watched (a pipe; not a regular file).
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  struct epoll_event sev = {.events = EPOLLIN, .data.fd = 0};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
  printf("READY c%s %s:%d\n", busy ? "-busy" : "", addr, port);
  fflush(stdout);
  struct epoll_event evs[256];
  char line[256];
  size_t line_len = 0;
  while (!stop) {
    int n = epoll_wait(ep, evs, 256, busy ? 0 : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == 0) {
        // stdin: a "quit" line or its end stops the server, so that it never outlives the bench
        ssize_t r = read(0, line + line_len, sizeof line - 1 - line_len);
        if (r == 0 || (r < 0 && errno != EAGAIN)) stop = 1;
        if (r > 0) {
          line_len += (size_t)r;
          line[line_len] = 0;
          if (strstr(line, "quit") != NULL) stop = 1;
          char *nl = strrchr(line, '\n');
          if (nl != NULL) {
            line_len = strlen(nl + 1);
            memmove(line, nl + 1, line_len + 1);
          } else if (line_len == sizeof line - 1) {
            line_len = 0;
          }
        }
      } else if (fd == lecho) {
        accept_all(fd, K_ECHO);
      } else if (fd == lsink) {
        accept_all(fd, K_SINK);
      } else if (fd == lstorage) {
        accept_all(fd, K_STORAGE);
      } else if (conns[fd].open) {
        if (evs[i].events & (EPOLLOUT)) writable(fd);
        if (conns[fd].open && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) readable(fd);
      }
    }
  }
  return 0;
}
