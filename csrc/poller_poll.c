/* lunasock: the poller's poll(2) backend, for every platform. See LICENSE. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "poller.h"

/* What a registered descriptor was when added: a closed descriptor whose
   number the kernel has reused names another file, which tells a stale
   entry from a real one (epoll gets the same from the kernel). */
typedef struct pollident {
  dev_t dev;
  ino_t ino;
} pollident;

/* The registered descriptors, packed in fds[0..n-1] in no particular
   order, with ids[] alongside; slot[] maps a descriptor to its index, so
   add, modify and remove are O(1) (remove moves the last entry into the
   hole). ready[] grows in wait only, so that it stays put until the next
   wait (poller.h). */
typedef struct pollstate {
  struct pollfd *fds;
  pollident *ids;
  lsk_ready *ready;
  int readycap;  /* entries in ready */
  int n, cap;
  int *slot;     /* fd -> index in fds, -1 when not registered */
  int nslot;
} pollstate;

/* Makes room for one more entry. Each array that grew is kept even if a
   later one fails; cap counts what they all have. */
static int reserve(pollstate *st) {
  struct pollfd *fds;
  pollident *ids;
  size_t cap;
  if (st->n < st->cap) return 0;
  if (st->cap > INT_MAX / 2) return LSK_NOMEM;
  cap = st->cap > 0 ? (size_t)st->cap * 2 : 16;
  fds = (struct pollfd *)realloc(st->fds, cap * sizeof *fds);
  if (fds == NULL) return LSK_NOMEM;
  st->fds = fds;
  ids = (pollident *)realloc(st->ids, cap * sizeof *ids);
  if (ids == NULL) return LSK_NOMEM;
  st->ids = ids;
  st->cap = (int)cap;
  return 0;
}

/* Makes slot[fd] exist. fd is open (fstat said so), hence below the
   descriptor limit: the map stays as small as the process's table. */
static int reserveslot(pollstate *st, int fd) {
  int *slot, i;
  size_t nslot;
  if (fd < st->nslot) return 0;
  if (fd == INT_MAX) return LSK_NOMEM;
  nslot = st->nslot > 0 ? (size_t)st->nslot : 64;
  while (nslot <= (size_t)fd) nslot *= 2;
  if (nslot > INT_MAX) nslot = INT_MAX;
  slot = (int *)realloc(st->slot, nslot * sizeof *slot);
  if (slot == NULL) return LSK_NOMEM;
  for (i = st->nslot; (size_t)i < nslot; i++) slot[i] = -1;
  st->slot = slot;
  st->nslot = (int)nslot;
  return 0;
}

static int indexof(const pollstate *st, int fd) {
  return fd < st->nslot ? st->slot[fd] : -1;
}

static void pl_close(lsk_poller *p) {
  pollstate *st = (pollstate *)p->state;
  p->state = NULL;
  if (st != NULL) {
    free(st->fds);
    free(st->ids);
    free(st->ready);
    free(st->slot);
    free(st);
  }
}

static int pl_open(lsk_poller *p) {
  p->fd = -1;
  p->state = calloc(1, sizeof(pollstate));
  return p->state != NULL ? 0 : LSK_NOMEM;
}

/* Unlike epoll, poll(2) takes any number: check that fd is open here, so
   that both backends refuse a bad descriptor with EBADF. */
static int pl_add(lsk_poller *p, int fd, int events, int known) {
  pollstate *st = (pollstate *)p->state;
  struct stat sb;
  int i, err;
  (void)known;  /* slot[] knows the same, and whether it is stale */
  if (fstat(fd, &sb) != 0) return errno;
  i = indexof(st, fd);
  if (i >= 0) {
    if (st->ids[i].dev == sb.st_dev && st->ids[i].ino == sb.st_ino)
      return EEXIST;
  }
  else {
    if ((err = reserve(st)) != 0 || (err = reserveslot(st, fd)) != 0)
      return err;
    i = st->n++;
    st->slot[fd] = i;
    st->fds[i].fd = fd;
  }
  st->fds[i].events = (short)events;
  st->fds[i].revents = 0;
  st->ids[i].dev = sb.st_dev;
  st->ids[i].ino = sb.st_ino;
  return 0;
}

static int pl_modify(lsk_poller *p, int fd, int events) {
  pollstate *st = (pollstate *)p->state;
  int i = indexof(st, fd);
  if (i < 0) return ENOENT;
  st->fds[i].events = (short)events;
  return 0;
}

static void pl_remove(lsk_poller *p, int fd) {
  pollstate *st = (pollstate *)p->state;
  int i = indexof(st, fd), last;
  if (i < 0) return;
  st->slot[fd] = -1;
  last = --st->n;
  if (i != last) {
    st->fds[i] = st->fds[last];
    st->ids[i] = st->ids[last];
    st->slot[st->fds[i].fd] = i;
  }
}

/* A descriptor closed while registered comes back with POLLNVAL at every
   wait until it is removed: it is reported like any event. */
static int pl_wait(lsk_poller *p, int ms, const lsk_ready **ready) {
  pollstate *st = (pollstate *)p->state;
  int i, k = 0, n;
  if (st->readycap < st->cap) {
    lsk_ready *grown = (lsk_ready *)realloc(st->ready,
                                            (size_t)st->cap * sizeof *grown);
    if (grown == NULL) return -ENOMEM;
    st->ready = grown;
    st->readycap = st->cap;
  }
  n = poll(st->fds, (nfds_t)st->n, ms);
  if (n < 0) return -errno;
  for (i = 0; k < n && i < st->n; i++) {
    if (st->fds[i].revents != 0) {
      st->ready[k].fd = st->fds[i].fd;
      st->ready[k].revents = (unsigned short)st->fds[i].revents;
      k++;
    }
  }
  *ready = st->ready;
  return k;
}

const lsk_pollops lsk_poll_ops = {
  "poll", pl_open, pl_close, pl_add, pl_modify, pl_remove, pl_wait
};
