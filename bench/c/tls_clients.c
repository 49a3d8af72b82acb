/*
 * tls_clients.c - TLS load for bench/tls.sh: full handshakes, or idle TLS
 * connections held open.  OpenSSL 3, epoll, one thread, non-blocking.
 *
 *   tls_clients -p PORT -m handshake [-c CONC] [-d SECS] [-n COUNT] [-C CAFILE]
 *       CONC connections at a time, each: connect, a full handshake (no
 *       session is ever resumed), close_notify, close; again until SECS
 *       (default 3) have passed, or COUNT handshakes are done.  Prints
 *           handshakes=N failed=F secs=T
 *   tls_clients -p PORT -m get -c CONNS -n COUNT [-d SECS]
 *       CONNS keep-alive TLS connections, each primed by one uncounted
 *       "GET / HTTP/1.1" (Host only, as wrk sends), then exactly COUNT
 *       more requests over them, one at a time per connection (responses
 *       framed by Content-Length).  Prints
 *           requests=N errors=E secs=T
 *   tls_clients -p PORT -m idle -k COUNT [-h HOLD_SECS] [-t CONNECT_SECS]
 *       opens COUNT TLS connections (at most 64 handshakes in flight),
 *       sends nothing after the handshake, holds them HOLD seconds (default
 *       30) or until SIGTERM/SIGINT.  Prints, once the connect phase ends,
 *           connected=N failed=F secs=T
 *
 * Certificates are not checked unless -C CAFILE is given (the server's
 * CPU per handshake is what is measured; the client's verification costs
 * the client).  Every phase is bounded in time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_PENDING 64

typedef struct conn {
  int fd;
  SSL *ssl;
  int state;          /* 0 free, 1 connecting, 2 handshaking, 3 open */
  char buf[4096];     /* -m get: the response read so far */
  size_t got;
  int primed;         /* -m get: the uncounted first response came */
} conn;

static volatile sig_atomic_t stop;
static SSL_CTX *ctx;
static struct sockaddr_in addr;
static int ep;
static conn *conns;
static long handshakes, failed, open_conns, pending;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_signal(int sig) { (void)sig; stop = 1; }

static void watch(int i, unsigned events, int op) {
  struct epoll_event e;
  e.events = events;
  e.data.u32 = (unsigned)i;
  epoll_ctl(ep, op, conns[i].fd, &e);
}

static void drop(int i) {
  conn *c = &conns[i];
  if (c->ssl) SSL_free(c->ssl);
  if (c->fd >= 0) close(c->fd);   /* close removes it from epoll */
  c->ssl = NULL;
  c->fd = -1;
  c->state = 0;
}

/* Starts connection i: a non-blocking connect. 0, or -1 (counted). */
static int start(int i) {
  conn *c = &conns[i];
  int one = 1;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) { failed++; return -1; }
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    failed++;
    drop(i);
    return -1;
  }
  c->state = 1;
  pending++;
  watch(i, EPOLLOUT, EPOLL_CTL_ADD);
  return 0;
}

/* Drives the handshake of i. Returns 1 when done, 0 to wait, -1 failed. */
static int step(int i) {
  conn *c = &conns[i];
  int r, e;
  if (c->state == 1) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) return -1;
    c->ssl = SSL_new(ctx);
    if (!c->ssl) return -1;
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_connect_state(c->ssl);
    c->state = 2;
  }
  r = SSL_do_handshake(c->ssl);
  if (r == 1) return 1;
  e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ) { watch(i, EPOLLIN, EPOLL_CTL_MOD); return 0; }
  if (e == SSL_ERROR_WANT_WRITE) { watch(i, EPOLLOUT, EPOLL_CTL_MOD); return 0; }
  ERR_clear_error();
  return -1;
}

/* An open idle connection i is readable: a session ticket (read and
   dropped inside OpenSSL) or the server closing it. 1 while open. */
static int idle_read(int i) {
  char b[256];
  int r = SSL_read(conns[i].ssl, b, sizeof b), e;
  if (r > 0) return 1;
  e = SSL_get_error(conns[i].ssl, r);
  ERR_clear_error();
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 1;
  drop(i);
  open_conns--;
  return 0;
}

static const char REQUEST[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
static long requests, errors, sent_reqs, limit_reqs;

/* -m get: sends the next request on i. 0, or -1 (failed). */
static int send_request(int i) {
  conn *c = &conns[i];
  size_t w = 0;
  c->got = 0;
  if (SSL_write_ex(c->ssl, REQUEST, sizeof REQUEST - 1, &w) != 1 || w != sizeof REQUEST - 1) {
    ERR_clear_error();
    return -1;   /* 40 bytes on an idle connection: never WANT_WRITE here */
  }
  if (c->primed) sent_reqs++;
  watch(i, EPOLLIN, EPOLL_CTL_MOD);
  return 0;
}

/* -m get: reads what has come on i; 1 when a whole response is in, 0
   to wait, -1 failed. */
static int read_response(int i) {
  conn *c = &conns[i];
  for (;;) {
    size_t n = 0;
    char *end, *cl;
    long len;
    if (c->got == sizeof c->buf) return -1;
    if (SSL_read_ex(c->ssl, c->buf + c->got, sizeof c->buf - c->got, &n) != 1) {
      int e = SSL_get_error(c->ssl, 0);
      ERR_clear_error();
      return e == SSL_ERROR_WANT_READ ? 0 : -1;
    }
    c->got += n;
    end = memmem(c->buf, c->got, "\r\n\r\n", 4);
    if (!end) continue;
    cl = memmem(c->buf, (size_t)(end - c->buf), "Content-Length: ", 16);
    if (!cl) cl = memmem(c->buf, (size_t)(end - c->buf), "content-length: ", 16);
    if (!cl) return -1;
    len = atol(cl + 16);
    if ((long)c->got >= (end + 4 - c->buf) + len) return 1;
  }
}

static void usage(void) {
  fprintf(stderr, "usage: tls_clients -p PORT -m handshake|idle [-c CONC] [-d SECS] [-n COUNT] "
                  "[-k COUNT] [-h HOLD] [-t CONNECT_SECS] [-H HOST] [-C CAFILE]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int port = 0, conc = 8, count = 1000, opt, i, n, slots;
  long limit = 0;
  double secs = 3, hold = 30, csecs = 60, t0, deadline;
  const char *mode = NULL, *host = "127.0.0.1", *cafile = NULL;
  struct epoll_event evs[256];
  while ((opt = getopt(argc, argv, "p:m:c:d:k:h:t:H:C:n:")) != -1) {
    switch (opt) {
      case 'p': port = atoi(optarg); break;
      case 'm': mode = optarg; break;
      case 'c': conc = atoi(optarg); break;
      case 'd': secs = atof(optarg); break;
      case 'k': count = atoi(optarg); break;
      case 'h': hold = atof(optarg); break;
      case 't': csecs = atof(optarg); break;
      case 'H': host = optarg; break;
      case 'C': cafile = optarg; break;
      case 'n': limit = atol(optarg); break;
      default: usage();
    }
  }
  if (port <= 0 || !mode || (strcmp(mode, "handshake") && strcmp(mode, "idle")
                            && strcmp(mode, "get"))) usage();
  if (conc < 1 || conc > 4096 || count < 1 || count > 1000000) usage();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) usage();
  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (cafile) {
    if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
      fprintf(stderr, "tls_clients: cannot load %s\n", cafile);
      return 1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  }
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  ep = epoll_create1(EPOLL_CLOEXEC);
  slots = strcmp(mode, "idle") == 0 ? count : conc;
  conns = calloc((size_t)slots, sizeof *conns);
  if (!conns) return 1;
  for (i = 0; i < slots; i++) conns[i].fd = -1;
  t0 = now();

  if (strcmp(mode, "handshake") == 0) {
    deadline = t0 + secs;
    for (i = 0; i < conc; i++) start(i);
    while (!stop && now() < deadline && !(limit && handshakes >= limit)) {
      n = epoll_wait(ep, evs, 256, 100);
      for (int k = 0; k < n; k++) {
        int j = (int)evs[k].data.u32, r = step(j);
        if (r == 0) continue;
        if (r == 1) {
          handshakes++;
          SSL_shutdown(conns[j].ssl);        /* close_notify, not waited for */
        } else {
          failed++;
        }
        pending--;
        drop(j);
        if (now() < deadline && !(limit && handshakes + pending >= limit)) start(j);
      }
      for (i = 0; i < conc; i++)             /* refill slots a failed start left */
        if (conns[i].state == 0 && now() < deadline && !(limit && handshakes + pending >= limit))
          start(i);
    }
    printf("handshakes=%ld failed=%ld secs=%.3f\n", handshakes, failed, now() - t0);
    return 0;
  }

  if (strcmp(mode, "get") == 0) {
    int live = 0;
    limit_reqs = limit > 0 ? limit : 1000;
    deadline = t0 + secs;
    for (i = 0; i < conc; i++) if (start(i) == 0) live++;
    while (!stop && now() < deadline && requests < limit_reqs && live > 0) {
      n = epoll_wait(ep, evs, 256, 100);
      for (int k = 0; k < n; k++) {
        int j = (int)evs[k].data.u32, r;
        conn *c = &conns[j];
        if (c->state != 3) {
          r = step(j);
          if (r == 0) continue;
          pending--;
          if (r < 0 || (c->state = 3, send_request(j) < 0)) { errors++; drop(j); live--; }
          continue;
        }
        r = read_response(j);
        if (r == 0) continue;
        if (r < 0) { errors++; drop(j); live--; continue; }
        if (c->primed) requests++; else c->primed = 1;
        if (sent_reqs < limit_reqs) {
          if (send_request(j) < 0) { errors++; drop(j); live--; }
        }
      }
    }
    printf("requests=%ld errors=%ld secs=%.3f\n", requests, errors, now() - t0);
    return 0;
  }

  /* idle */
  deadline = t0 + csecs;
  i = 0;
  while (!stop && now() < deadline && open_conns + failed < count) {
    while (i < count && pending < MAX_PENDING) start(i++);
    n = epoll_wait(ep, evs, 256, 100);
    for (int k = 0; k < n; k++) {
      int j = (int)evs[k].data.u32, r;
      if (conns[j].state == 3) {
        if (!idle_read(j)) failed++;
        continue;
      }
      r = step(j);
      if (r == 0) continue;
      pending--;
      if (r == 1) {
        conns[j].state = 3;
        open_conns++;
        watch(j, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
      } else {
        failed++;
        drop(j);
      }
    }
  }
  printf("connected=%ld failed=%ld secs=%.3f\n", open_conns, failed, now() - t0);
  fflush(stdout);
  deadline = now() + hold;
  while (!stop && now() < deadline) {
    n = epoll_wait(ep, evs, 256, 200);
    for (int k = 0; k < n; k++) {
      int j = (int)evs[k].data.u32;
      if (conns[j].state == 3) idle_read(j);
    }
  }
  return 0;
}
