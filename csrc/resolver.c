/* lunasock.core: getaddrinfo off the loop thread. See LICENSE. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>

#include "lunasock.h"

/* Completion is signalled on an eventfd where there is one, else on a
   pipe; either way the loop just waits for the read end to be readable. */
#if defined(__linux__)
#include <sys/eventfd.h>
#define LSK_EVENTFD 1
#endif

#define JOBBOX "lunasock.resolver.job"

/* One lookup. Two owners hold it, the worker thread and the Lua box, and
   the last to let go frees it. The descriptors belong to the Lua side,
   which closes them when it lets go; the worker signals completion, under
   the lock, only while the Lua side is still there, so it never writes
   to a descriptor that was closed (or reused).

   After a fork only the forking thread goes on in the child. Two things
   keep the child safe. core.fork waits at the gate (below) until no
   worker is running, so no worker holds a job's lock or a lock inside the
   C library's resolver at the fork (the child would find it held for
   ever: glibc's getaddrinfo deadlocked in such a child). And a job the
   child inherits has no worker there: a job records the process that
   made it, and the child never takes an inherited job's lock (see
   orphaned); it lets such a job go without waiting for it and, if a task
   of its own still waits for the answer, starts the lookup again on a
   worker of its own. */
typedef struct job {
  pthread_mutex_t lock;
  int refs;
  int abandoned;     /* the Lua side has let go */
  int done;
  int rfd, wfd;      /* completion signal (the same fd for an eventfd) */
  char *host, *serv;
  struct addrinfo hints;
  struct addrinfo *res;
  int gai, err;
  pid_t pid;         /* the process that made it */
} job;

/* Made by another process: this is a forked child's copy. */
static int orphaned(const job *j) {
  return j->pid != getpid();
}

/* A child lets go of an inherited job: it closes its copies of the
   descriptors and frees the names, which the worker only read. The rest
   (the lock, the answer the worker may have been building) is left: the
   worker wrote it without the child's knowledge. */
static void release_orphan(lua_State *L, job *j) {
  lsk_notifyclose(L, j->rfd);
  close(j->rfd);
  if (j->wfd != j->rfd) close(j->wfd);
  free(j->host);
  free(j->serv);
  free(j);
}

static void destroy(job *j) {
  if (j->res != NULL) freeaddrinfo(j->res);
  free(j->host);
  free(j->serv);
  pthread_mutex_destroy(&j->lock);
  free(j);
}

/* Drops one reference; frees the job with the last one. */
static void unref(job *j) {
  int last;
  pthread_mutex_lock(&j->lock);
  last = --j->refs == 0;
  pthread_mutex_unlock(&j->lock);
  if (last) destroy(j);
}

static void signal_done(job *j) {
#if defined(LSK_EVENTFD)
  uint64_t one = 1;
  ssize_t r;
  do r = write(j->wfd, &one, sizeof one); while (r < 0 && errno == EINTR);
#else
  ssize_t r;
  do r = write(j->wfd, "x", 1); while (r < 0 && errno == EINTR);
#endif
  (void)r;
}

/* The fork gate: workers run between gate_enter and gate_leave, and
   lsk_prefork waits until none does, keeping new ones out until
   lsk_postfork. */
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_changed = PTHREAD_COND_INITIALIZER;
static int gate_running = 0;   /* workers inside */
static int gate_forking = 0;   /* a fork is waiting or under way */

static void gate_enter(void) {
  pthread_mutex_lock(&gate);
  while (gate_forking) pthread_cond_wait(&gate_changed, &gate);
  gate_running++;
  pthread_mutex_unlock(&gate);
}

static void gate_leave(void) {
  pthread_mutex_lock(&gate);
  if (--gate_running == 0 && gate_forking)
    pthread_cond_broadcast(&gate_changed);
  pthread_mutex_unlock(&gate);
}

void lsk_prefork(void) {
  pthread_mutex_lock(&gate);
  gate_forking = 1;
  while (gate_running > 0) pthread_cond_wait(&gate_changed, &gate);
  /* the gate stays locked across the fork */
}

void lsk_postfork(int child) {
  if (child) {
    /* the parent's waiting workers are not here: start the gate afresh */
    pthread_mutex_init(&gate, NULL);
    pthread_cond_init(&gate_changed, NULL);
    gate_running = gate_forking = 0;
    return;
  }
  gate_forking = 0;
  pthread_cond_broadcast(&gate_changed);
  pthread_mutex_unlock(&gate);
}

static void *worker(void *arg) {
  job *j = (job *)arg;
  int gai, err;
  gate_enter();
  gai = getaddrinfo(j->host, j->serv, &j->hints, &j->res);
  err = errno;
  pthread_mutex_lock(&j->lock);
  j->gai = gai;
  j->err = err;
  j->done = 1;
  if (!j->abandoned) signal_done(j);
  pthread_mutex_unlock(&j->lock);
  unref(j);
  gate_leave();
  return NULL;
}

/* The Lua side lets go: the loop forgets the descriptor, which is closed
   under the lock so that the worker cannot be writing to it. */
static int jobbox_release(lua_State *L) {
  job **box = (job **)luaL_checkudata(L, 1, JOBBOX);
  job *j = *box;
  if (j == NULL) return 0;
  *box = NULL;
  if (orphaned(j)) {
    release_orphan(L, j);
    return 0;
  }
  lsk_notifyclose(L, j->rfd);
  pthread_mutex_lock(&j->lock);
  j->abandoned = 1;
  close(j->rfd);
  if (j->wfd != j->rfd) close(j->wfd);
  pthread_mutex_unlock(&j->lock);
  unref(j);
  return 0;
}

static char *dupstr(const char *s) {
  char *d;
  if (s == NULL) return NULL;
  d = (char *)malloc(strlen(s) + 1);
  if (d != NULL) strcpy(d, s);
  return d;
}

/* Makes the job and its signal. Returns 0 or an errno; on failure frees
   everything it made. */
static int newjob(job **out, const char *host, const char *serv,
                  const struct addrinfo *hints) {
  job *j = (job *)calloc(1, sizeof *j);
  if (j == NULL) return ENOMEM;
  j->rfd = j->wfd = -1;
  j->host = dupstr(host);
  j->serv = dupstr(serv);
  if ((host != NULL && j->host == NULL) || (serv != NULL && j->serv == NULL)) {
    free(j->host);
    free(j->serv);
    free(j);
    return ENOMEM;
  }
  j->hints = *hints;
  j->pid = getpid();
  j->refs = 1;  /* the Lua side; the worker takes its own */
  pthread_mutex_init(&j->lock, NULL);
#if defined(LSK_EVENTFD)
  j->rfd = j->wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (j->rfd < 0) {
    int err = errno;
    destroy(j);
    return err;
  }
#else
  {
    int fds[2];
    if (pipe(fds) < 0) {
      int err = errno;
      destroy(j);
      return err;
    }
    j->rfd = fds[0];
    j->wfd = fds[1];
    lsk_setcloexec(fds[0]);
    lsk_setcloexec(fds[1]);
    lsk_setnonblock(fds[0]);
  }
#endif
  *out = j;
  return 0;
}

static int resolved(lua_State *L, int status, lua_KContext ctx);
static int start(lua_State *L, job **box);

/* Yields until the worker is done: fd readable. */
static int waitjob(lua_State *L, job *j) {
  lua_pushinteger(L, j->rfd);
  lua_pushinteger(L, POLLIN);
  lua_pushnil(L);
  return lua_yieldk(L, 3, 0, resolved);
}

/* The continuation: the box is at 4, the values the loop resumed with
   above it. */
static int resolved(lua_State *L, int status, lua_KContext ctx) {
  job **box = (job **)luaL_checkudata(L, 4, JOBBOX);
  job *j = *box;
  int done;
  (void)status;
  (void)ctx;
  lua_settop(L, 4);
  if (orphaned(j)) {
    /* a forked child, woken by the parent's worker: ask again here */
    job *fresh = NULL;
    int err = newjob(&fresh, j->host, j->serv, &j->hints);
    *box = NULL;
    release_orphan(L, j);
    if (err != 0) return lsk_pusherror(L, err, NULL);
    *box = fresh;
    return start(L, box);
  }
  pthread_mutex_lock(&j->lock);
  done = j->done;
  pthread_mutex_unlock(&j->lock);
  if (!done) return waitjob(L, j);  /* woken for something else */
  if (j->gai != 0) {
    int n = lsk_pushgaierror(L, j->gai, j->err);
    return n;  /* the box is released by its __gc */
  }
  lsk_pushaddrinfo(L, j->res);
  return 1;
}

int lsk_getaddrinfo_async(lua_State *L, const char *host, const char *serv,
                          const struct addrinfo *hints) {
  job **box, *j = NULL;
  int err;
  lua_settop(L, 3);
  box = (job **)lua_newuserdatauv(L, sizeof *box, 0);  /* 4 */
  *box = NULL;
  if (luaL_newmetatable(L, JOBBOX)) {
    lua_pushcfunction(L, jobbox_release);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, 4);
  if ((err = newjob(&j, host, serv, hints)) != 0)
    return lsk_pusherror(L, err, NULL);
  *box = j;
  return start(L, box);
}

/* Starts the worker for the job in the box (at 4) and waits for it. */
static int start(lua_State *L, job **box) {
  job *j = *box;
  pthread_t tid;
  pthread_attr_t attr;
  int err;
  j->refs++;  /* the worker's */
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  err = pthread_create(&tid, &attr, worker, j);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    /* no thread to be had: look it up here, blocking the loop briefly */
    j->refs--;
    j->gai = getaddrinfo(j->host, j->serv, &j->hints, &j->res);
    j->err = errno;
    j->done = 1;
    return resolved(L, LUA_OK, 0);
  }
  return waitjob(L, j);
}
