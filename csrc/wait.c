/* lunasock: the clock and the one-descriptor wait, compiled into both
   lunasock.core and lunasock.tls (each module keeps its copy hidden).
   See LICENSE. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <time.h>

#include "lunasock.h"

/* Monotonic seconds. */
double lsk_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Waits for events on fd for at most timeout seconds (< 0: forever).
   Returns 0 when ready (an error or hang-up counts as ready: the retried
   call then reports it), ETIMEDOUT, or the poll error. Rounds the wait up
   to whole milliseconds so it never ends early, and resumes after EINTR
   with the time that is left. */
int lsk_poll1(int fd, int events, double timeout) {
  struct pollfd p;
  double deadline = timeout >= 0 ? lsk_now() + timeout : 0;
  for (;;) {
    int ms = -1, r;
    if (timeout >= 0) {
      double left = deadline - lsk_now();
      if (left <= 0) return ETIMEDOUT;
      ms = left * 1000 >= INT_MAX ? INT_MAX : (int)ceil(left * 1000);
    }
    p.fd = fd;
    p.events = (short)events;
    p.revents = 0;
    r = poll(&p, 1, ms);
    if (r > 0) return 0;
    if (r == 0) {
      if (timeout >= 0 && lsk_now() >= deadline) return ETIMEDOUT;
      continue;
    }
    if (errno != EINTR) return errno;
  }
}
