/* lunasock: the poller's epoll backend (Linux). See LICENSE. */
#if defined(__linux__)

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "poller.h"

/* The event buffer starts small and doubles whenever a wait fills it, up
   to LSK_EPOLL_MAXEVENTS and not far past the number of registered
   descriptors: a busy poller gets thousands of events per call, an idle
   one keeps a kilobyte. Level-triggered epoll moves what it reported to
   the back of its ready list, so descriptors that did not fit are
   reported first by the next wait and nobody starves. */
#ifndef LSK_EPOLL_MAXEVENTS
#define LSK_EPOLL_MAXEVENTS 4096
#endif
#define LSK_EPOLL_MINEVENTS 64

typedef struct epstate {
  struct epoll_event *evs;  /* what epoll_wait fills */
  lsk_ready *ready;         /* the same, translated to poll(2) bits */
  int cap;                  /* entries in both */
  int full;                 /* the last wait filled them */
} epstate;

/* The bits have the same values on Linux; the compiler folds these. */
static unsigned toepoll(int ev) {
  return (ev & POLLIN ? EPOLLIN : 0) | (ev & POLLOUT ? EPOLLOUT : 0) |
         (ev & POLLPRI ? EPOLLPRI : 0) | (ev & POLLRDHUP ? EPOLLRDHUP : 0);
}

static int fromepoll(unsigned ev) {
  return (ev & EPOLLIN ? POLLIN : 0) | (ev & EPOLLOUT ? POLLOUT : 0) |
         (ev & EPOLLPRI ? POLLPRI : 0) | (ev & EPOLLRDHUP ? POLLRDHUP : 0) |
         (ev & EPOLLERR ? POLLERR : 0) | (ev & EPOLLHUP ? POLLHUP : 0);
}

/* Replaces the buffers by larger ones (their contents are not needed
   between waits); on failure keeps the old ones. */
static int resize(epstate *st, int cap) {
  struct epoll_event *evs = malloc((size_t)cap * sizeof *evs);
  lsk_ready *ready = malloc((size_t)cap * sizeof *ready);
  if (evs == NULL || ready == NULL) {
    free(evs);
    free(ready);
    return LSK_NOMEM;
  }
  free(st->evs);
  free(st->ready);
  st->evs = evs;
  st->ready = ready;
  st->cap = cap;
  return 0;
}

static void ep_close(lsk_poller *p) {
  epstate *st = (epstate *)p->state;
  int fd = p->fd;
  p->fd = -1;
  p->state = NULL;
  if (fd >= 0) close(fd);  /* EINTR still closes it on Linux */
  if (st != NULL) {
    free(st->evs);
    free(st->ready);
    free(st);
  }
}

static int ep_open(lsk_poller *p) {
  epstate *st = (epstate *)calloc(1, sizeof *st);
  if (st == NULL) return LSK_NOMEM;
  p->state = st;
  if (resize(st, LSK_EPOLL_MINEVENTS) != 0) {
    ep_close(p);
    return LSK_NOMEM;
  }
  p->fd = epoll_create1(EPOLL_CLOEXEC);
  if (p->fd < 0) {
    int err = errno;
    ep_close(p);
    return err;
  }
  return 0;
}

static int ctl(int epfd, int op, int fd, int events) {
  struct epoll_event ev;
  ev.events = toepoll(events);
  ev.data.u64 = 0;
  ev.data.fd = fd;
  return epoll_ctl(epfd, op, fd, &ev) == 0 ? 0 : errno;
}

/* With an entry in the table, ADD succeeding means the entry was stale
   (its descriptor was closed, which removed it from the epoll set, and
   the number was reused); EEXIST means it really is registered. Without
   one, EEXIST means the kernel kept a registration poller.c forgot: the
   descriptor was removed after being closed while a duplicate kept the
   file open (epoll(7)), and the number names that file again. */
static int ep_add(lsk_poller *p, int fd, int events, int known) {
  int err = ctl(p->fd, EPOLL_CTL_ADD, fd, events);
  if (err == EEXIST && !known)
    err = ctl(p->fd, EPOLL_CTL_MOD, fd, events);
  return err;
}

static int ep_modify(lsk_poller *p, int fd, int events) {
  return ctl(p->fd, EPOLL_CTL_MOD, fd, events);
}

/* EBADF or ENOENT: it was closed, and epoll has forgotten it already. */
static void ep_remove(lsk_poller *p, int fd) {
  struct epoll_event ev = {0, {0}};  /* kernels before 2.6.9 want one */
  epoll_ctl(p->fd, EPOLL_CTL_DEL, fd, &ev);
}

static int ep_wait(lsk_poller *p, int ms, const lsk_ready **ready) {
  epstate *st = (epstate *)p->state;
  int i, n;
  if (st->full && st->cap < LSK_EPOLL_MAXEVENTS && st->cap < p->count) {
    int cap = st->cap * 2;
    resize(st, cap < LSK_EPOLL_MAXEVENTS ? cap : LSK_EPOLL_MAXEVENTS);
  }
  n = epoll_wait(p->fd, st->evs, st->cap, ms);
  if (n < 0) return -errno;
  st->full = (n == st->cap);
  for (i = 0; i < n; i++) {
    st->ready[i].fd = st->evs[i].data.fd;
    st->ready[i].revents = fromepoll(st->evs[i].events);
  }
  *ready = st->ready;
  return n;
}

const lsk_pollops lsk_epoll_ops = {
  "epoll", ep_open, ep_close, ep_add, ep_modify, ep_remove, ep_wait
};

#endif
