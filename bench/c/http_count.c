/*
 * http_count.c - exactly N HTTP/1.1 keep-alive requests (single thread, epoll).
 *
 *   http_count -p PORT [-H 127.0.0.1] [-c CONNS] -n REQUESTS [-d MAX_SECS]
 *              [-u PATH]
 *
 * For instruction counting (callgrind_http.sh), where wrk's time-bounded
 * runs do not fit: CONNS keep-alive connections each send wrk's request
 * ("GET PATH HTTP/1.1" with only a Host field), wait for the whole response
 * (head, then Content-Length bytes of body), and send the next, until
 * exactly REQUESTS responses have come in total. Every connection first
 * makes one untimed priming request (not counted), so that the server has
 * accepted all of them before the counted ones.
 *
 * Output: one line "requests=N errors=E secs=S". Exit status 1 when fewer
 * than N responses came (error, server gone, or the MAX_SECS bound, default
 * 120, via alarm()).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_SIZE 65536
#define MAX_EVENTS 512

struct conn {
  int fd;
  int primed;             /* the priming response came */
  size_t inlen;
  long body_left;         /* -1: reading the head */
  char in[IN_SIZE];
};

static char req[512];
static size_t req_len;
static long want, sent, done, errors;

static void die(const char *what) { perror(what); exit(1); }
static void on_alarm(int sig) { (void)sig; _exit(1); }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int send_req(struct conn *c) {
  size_t off = 0;
  while (off < req_len) {
    ssize_t n = send(c->fd, req + off, req_len - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;            /* a request is tiny: EAGAIN is an error too */
    }
    off += (size_t)n;
  }
  return 0;
}

/* One complete response came on c: count it and send the next request. */
static int next(struct conn *c) {
  if (!c->primed) c->primed = 1;
  else done++;
  if (sent >= want) return 0;
  sent++;
  return send_req(c);
}

/* Consumes what is in c->in; returns -1 on a protocol error. */
static int consume(struct conn *c) {
  for (;;) {
    if (c->body_left < 0) {
      char *e = memmem(c->in, c->inlen, "\r\n\r\n", 4);
      if (!e) return c->inlen == IN_SIZE ? -1 : 0;
      size_t head = (size_t)(e - c->in) + 4;
      long len = 0;
      for (char *p = c->in; p < e; p++) {
        if (*p == '\n' && strncasecmp(p + 1, "content-length:", 15) == 0) {
          len = strtol(p + 16, NULL, 10);
          break;
        }
      }
      if (strncmp(c->in, "HTTP/1.1 200", 12) != 0) errors++;
      memmove(c->in, c->in + head, c->inlen - head);
      c->inlen -= head;
      c->body_left = len;
    }
    size_t take = (size_t)c->body_left < c->inlen ? (size_t)c->body_left : c->inlen;
    memmove(c->in, c->in + take, c->inlen - take);
    c->inlen -= take;
    c->body_left -= (long)take;
    if (c->body_left > 0) return 0;
    c->body_left = -1;
    if (next(c) < 0) return -1;
    if (c->inlen == 0) return 0;
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *path = "/";
  int port = 0, conns = 1, opt, maxsecs = 120;
  while ((opt = getopt(argc, argv, "p:H:c:n:d:u:")) != -1) {
    switch (opt) {
    case 'p': port = atoi(optarg); break;
    case 'H': host = optarg; break;
    case 'c': conns = atoi(optarg); break;
    case 'n': want = atol(optarg); break;
    case 'd': maxsecs = atoi(optarg); break;
    case 'u': path = optarg; break;
    default:
      fprintf(stderr, "usage: http_count -p PORT [-H HOST] [-c CONNS] -n N [-d SECS] [-u PATH]\n");
      return 2;
    }
  }
  if (port <= 0 || conns <= 0 || want <= 0 || strlen(path) > 256) {
    fprintf(stderr, "http_count: -p PORT and -n N (> 0) are required\n");
    return 2;
  }
  signal(SIGALRM, on_alarm);
  alarm((unsigned)maxsecs);
  req_len = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                             path, host, port);

  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) die("inet_pton");
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  struct conn *cs = calloc((size_t)conns, sizeof *cs);
  if (!cs) die("calloc");
  for (int i = 0; i < conns; i++) {   /* blocking connect and priming send */
    struct conn *c = &cs[i];
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) die("socket");
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->body_left = -1;
    if (send_req(c) < 0) die("send");
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) < 0) die("epoll_ctl");
  }
  double t0 = now();
  int open = conns;
  struct epoll_event evs[MAX_EVENTS];
  while (done < want && open > 0) {
    int n = epoll_wait(ep, evs, MAX_EVENTS, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (c->fd < 0) continue;
      ssize_t r = recv(c->fd, c->in + c->inlen, IN_SIZE - c->inlen, 0);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r > 0) {
        c->inlen += (size_t)r;
        if (consume(c) == 0) continue;
      }
      errors++;
      epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
      close(c->fd);
      c->fd = -1;
      open--;
    }
  }
  printf("requests=%ld errors=%ld secs=%.3f\n", done, errors, now() - t0);
  return done >= want ? 0 : 1;
}
