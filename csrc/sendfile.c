/* lunasock.core: sock:sendfile, a file's bytes to a socket without
   copying them through Lua. See LICENSE. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "lunasock.h"

/* Shims: Linux has a zero-copy sendfile(2); elsewhere (and where Linux
   refuses a source, e.g. EINVAL for a file system without it) the bytes
   go through a small buffer, pread then send. */
#if defined(__linux__)
#include <sys/sendfile.h>
#define LSK_HAVE_SENDFILE 1
#endif
#if !defined(MSG_NOSIGNAL)
#define MSG_NOSIGNAL 0
#endif
#if !defined(MSG_DONTWAIT)
#define MSG_DONTWAIT 0
#endif

/* Bytes one sendfile(2) call is asked for, and what one call of the
   method sends inside a loop task before it lets the other tasks run
   (nginx's sendfile_max_chunk default): a fast reader never keeps the
   loop to itself for a whole large file. */
#define LSK_SENDFILE_SLICE ((lua_Integer)2 * 1024 * 1024)
#define LSK_COPY_BUF 16384

/* One transfer of at most n bytes of in, from offset off, to the socket
   out: bytes sent, 0 at the end of the file, or -1 with *err set. */
static ssize_t copy_some(int out, int in, off_t off, size_t n, int *err) {
  char buf[LSK_COPY_BUF];
  ssize_t r, w;
  if (n > sizeof buf) n = sizeof buf;
  do r = pread(in, buf, n, off);
  while (r < 0 && errno == EINTR);
  if (r <= 0) {
    if (r < 0) *err = errno;  /* 0 is the end: errno is a stale one */
    return r;
  }
  do w = send(out, buf, (size_t)r, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (w < 0 && errno == EINTR);
  if (w < 0) *err = errno;
  return w;
}

/* EOVERFLOW: an offset past what the file system can hold, where no byte
   can be (pread reads the end there); EINVAL and ENOSYS: a source
   sendfile(2) refuses. */
static ssize_t send_some(int out, int in, off_t off, size_t n, int *err) {
#if defined(LSK_HAVE_SENDFILE)
  ssize_t r;
  do r = sendfile(out, in, &off, n);
  while (r < 0 && errno == EINTR);
  if (r >= 0) return r;
  if (errno != EINVAL && errno != ENOSYS && errno != EOVERFLOW) {
    *err = errno;
    return -1;
  }
#endif
  return copy_some(out, in, off, n, err);
}

/* sendfile(2) has no MSG_NOSIGNAL: writing to a socket the peer has
   closed raises SIGPIPE at the calling thread. So SIGPIPE is blocked
   around the calls and, if one of them failed with EPIPE, the signal it
   left pending is taken (unless the caller had SIGPIPE blocked already,
   in which case it is theirs to see). No process-wide state changes. */
typedef struct nopipe {
  sigset_t pipe, old;
} nopipe;

static void nopipe_begin(nopipe *np) {
  sigemptyset(&np->pipe);
  sigaddset(&np->pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &np->pipe, &np->old);
}

static void nopipe_end(nopipe *np, int epipe) {
  if (epipe && !sigismember(&np->old, SIGPIPE)) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&np->pipe, NULL, &zero) < 0 && errno == EINTR) {}
  }
  pthread_sigmask(SIG_SETMASK, &np->old, NULL);
}

/* Arguments: 1 socket, 2 file, 3 offset, 4 count. The bytes sent so far
   live in the scratch slot (base + 2), so a timeout or an error after
   some progress reports them (io.c's giveup). Progress clears the
   deadline (base + 1): the socket's timeout bounds each wait for the
   peer to take more, not the whole transfer. */
static int sendfile_attempt(lua_State *L, lsk_socket *s, int base) {
  int in = lsk_fdarg(L, 2), err = 0, want = 0;
  lua_Integer off = luaL_optinteger(L, 3, 0);
  lua_Integer count = lua_isnoneornil(L, 4) ? -1 : lua_tointeger(L, 4);
  lua_Integer sent = lua_tointeger(L, base + 2), now = 0;
  nopipe np;
  nopipe_begin(&np);
  for (;;) {
    lua_Integer left = count < 0 ? LSK_SENDFILE_SLICE : count - sent;
    ssize_t r;
    if (left > INT64_MAX - (off + sent))  /* no offset reaches 2^63 */
      left = INT64_MAX - (off + sent);
    if (left == 0) break;
    if (now >= LSK_SENDFILE_SLICE && s->timeout != 0 &&
        lua_isyieldable(L) && lsk_isloopthread(L)) {
      want = LSK_WANT_WRITE;  /* writable: the loop resumes it next turn */
      break;
    }
    r = send_some(s->fd, in, (off_t)(off + sent),
                  (size_t)(left < LSK_SENDFILE_SLICE ? left
                                                     : LSK_SENDFILE_SLICE),
                  &err);
    if (r > 0) {
      sent += r;
      now += r;
      continue;
    }
    if (r < 0 && (err == EAGAIN || err == EWOULDBLOCK))
      want = LSK_WANT_WRITE;
    break;  /* end of file, would block, or an error */
  }
  nopipe_end(&np, err == EPIPE);
  if (now > 0) {
    lua_pushinteger(L, sent);
    lua_replace(L, base + 2);
    lua_pushnil(L);
    lua_replace(L, base + 1);
  }
  if (want) return want;
  if (err != 0) {
    lsk_pusherror(L, err, NULL);
    lua_pushinteger(L, sent);
    return 4;
  }
  lua_pushinteger(L, sent);
  return 1;
}

/* s:sendfile(file[, offset[, count]]) -> bytes sent: count bytes of file
   (an integer descriptor, a Lua file, e.g. from core.open) from offset
   (default 0; the file's own position is neither used nor moved), or up
   to its end when count is nil. Fewer than count only when the file
   ended first. Waits as send does (a loop task is suspended); on a
   failure after some progress: nil, msg, code, bytes sent. */
static int sock_sendfile(lua_State *L) {
  static const lsk_op op = {sendfile_attempt, 4};
  lsk_socket *s = lsk_checkopen(L, 1);
  lua_Integer off = luaL_optinteger(L, 3, 0);
  lsk_fdarg(L, 2);
  luaL_argcheck(L, off >= 0, 3, "offset must be >= 0");
  if (!lua_isnoneornil(L, 4)) {
    lua_Integer count = luaL_checkinteger(L, 4);
    luaL_argcheck(L, count >= 0 && count <= INT64_MAX - off, 4,
                  "count must be >= 0 and offset + count below 2^63");
  }
  return lsk_blocking(L, &op, s);
}

const luaL_Reg lsk_sendfile_methods[] = {
  {"sendfile", sock_sendfile},
  {NULL, NULL}
};
