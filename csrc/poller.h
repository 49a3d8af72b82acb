/* lunasock: the poller's backend interface (poller.c). See LICENSE. */
#ifndef LUNASOCK_POLLER_H
#define LUNASOCK_POLLER_H

#include <poll.h>

/* Linux only; elsewhere asking for it asks for nothing. */
#ifndef POLLRDHUP
#define POLLRDHUP 0
#endif

/* What add and modify accept; POLLERR and POLLHUP are always reported. */
#define LSK_POLLEVENTS (POLLIN | POLLOUT | POLLPRI | POLLRDHUP)

/* Returned by a backend when malloc/realloc failed (errnos are > 0);
   poller.c turns it into a memory error. */
#define LSK_NOMEM (-1)

/* One ready descriptor, as a wait reports it: poll(2) bits. */
typedef struct lsk_ready {
  int fd;
  int revents;
} lsk_ready;

typedef struct lsk_pollops lsk_pollops;

/* The userdata. Closed means ops == NULL. Whatever a backend allocates
   hangs from state and is freed by its close, so nothing leaks when the
   poller is collected. */
typedef struct lsk_poller {
  const lsk_pollops *ops;
  int fd;        /* the epoll descriptor; -1 for poll */
  int count;     /* registered descriptors (entries in the fd -> obj table) */
  unsigned waits;  /* waits so far: dispatch notices one made meanwhile */
  void *state;   /* the backend's own */
} lsk_poller;

/* A backend: two implementations chosen at run time, hence the table.
   Plain C, no lua_State. Unless noted, functions return 0, an errno or
   LSK_NOMEM, and leave the poller unchanged on failure. */
struct lsk_pollops {
  const char *name;
  int (*open)(lsk_poller *p);
  void (*close)(lsk_poller *p);  /* frees everything; sets fd to -1 */
  /* known: poller.c's table has an entry for fd (maybe stale). Returns
     EEXIST only when fd is really registered already. */
  int (*add)(lsk_poller *p, int fd, int events, int known);
  int (*modify)(lsk_poller *p, int fd, int events);
  void (*remove)(lsk_poller *p, int fd);  /* forgets fd, whatever happens */
  /* Waits up to ms milliseconds (-1: forever). Returns the number of
     ready descriptors, stored in *ready, or -errno. The array stays put
     until the next wait or close: add, modify and remove leave it alone,
     as dispatch reads it while tasks run. */
  int (*wait)(lsk_poller *p, int ms, const lsk_ready **ready);
};

#if defined(__linux__)
extern const lsk_pollops lsk_epoll_ops;  /* poller_epoll.c */
#endif
extern const lsk_pollops lsk_poll_ops;   /* poller_poll.c */

#endif
