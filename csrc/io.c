/* lunasock.core: data transfer and the one place that waits. See LICENSE. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "lunasock.h"

#include <lualib.h>

/* Shims: MSG_NOSIGNAL keeps a send to a closed peer from raising SIGPIPE;
   where it is missing, SO_NOSIGPIPE is set on every socket (socket.c). */
#if !defined(MSG_NOSIGNAL)
#define MSG_NOSIGNAL 0
#endif
#if !defined(MSG_CMSG_CLOEXEC)
#define MSG_CMSG_CLOEXEC 0
#endif
/* Linux's TCP discards the data of a MSG_TRUNC read instead of copying
   it (tcp(7)); other stacks copy, or ignore the flag. */
#if defined(__linux__)
#define LSK_TCP_TRUNC_DISCARDS 1
#else
#define LSK_TCP_TRUNC_DISCARDS 0
#endif

/* Registry key of the close hook (socket close is no hot path). */
static const char closehook_key = 'c';

/* A stream read larger than this is served as a shorter read (which POSIX
   allows for streams); a datagram read of any size is honoured. */
#define LSK_STREAM_READ_MAX (16 * 1024 * 1024)
/* A read of at most this many bytes lands in a buffer on the C stack and
   is copied once, into the result string; a larger one goes to a
   luaL_Buffer sized to what the kernel holds (readsize). */
#define LSK_STACK_READ 65536
/* Descriptors one recvmsg can receive; more are discarded by the kernel,
   which then reports MSG_CTRUNC. SCM_MAX_FD is 253 on Linux. */
#define LSK_MAX_FDS 253

int lsk_isloopthread(lua_State *L) {
  int yes;
  lua_pushthread(L);
  yes = lua_rawget(L, LSK_UV_TASKS) == LUA_TBOOLEAN;
  lua_pop(L, 1);
  return yes;
}

/* Tells the event loop, through its hook, that fd is about to be closed,
   so that it can drop its registration and wake any task waiting on it.
   The hook runs protected: a failing hook must not keep the descriptor
   open. */
void lsk_notifyclose(lua_State *L, int fd) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &closehook_key) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    return;
  }
  lua_pushinteger(L, fd);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    lua_warning(L, "lunasock: close hook failed: ", 1);
    lua_warning(L, lua_tostring(L, -1) ? lua_tostring(L, -1) : "?", 0);
    lua_pop(L, 1);
  }
}

/* core.cosocket(co[, on]): marks the coroutine co as an event-loop task.
   A socket call in such a task that would block yields fd, events
   (POLLIN or POLLOUT) and the seconds left (nil: no limit) to whoever
   resumed it, and expects to be resumed with true once the descriptor is
   ready, or false when the time is up. */
static int core_cosocket(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTHREAD);
  lua_settop(L, 2);
  lua_pushvalue(L, 1);
  if (lua_isnone(L, 2) || lua_toboolean(L, 2))
    lua_pushboolean(L, 1);
  else
    lua_pushnil(L);
  lua_rawset(L, LSK_UV_TASKS);
  return 0;
}

/* core.iscosocket([co]) -> whether co (default: the running coroutine)
   is marked as an event-loop task: for modules built apart from the core
   (lunasock.tls) that wait the way core sockets do. */
static int core_iscosocket(lua_State *L) {
  if (lua_isnoneornil(L, 1))
    lua_pushthread(L);
  else {
    luaL_checktype(L, 1, LUA_TTHREAD);
    lua_pushvalue(L, 1);
  }
  lua_pushboolean(L, lua_rawget(L, LSK_UV_TASKS) == LUA_TBOOLEAN);
  return 1;
}

/* core.setclosehook(fn | nil): fn(fd) is called before any lunasock
   socket is closed (close, __close or __gc). */
static int core_setclosehook(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &closehook_key);
  return 0;
}

/* core.monotime() -> seconds on a clock that never jumps (the loop's). */
static int core_monotime(lua_State *L) {
  lua_pushnumber(L, lsk_now());
  return 1;
}

/* Partial data of a MSG_WAITALL read, kept in the call's scratch slot
   across waits. It grows geometrically, so collecting n bytes costs O(n)
   however they arrive, and holds at most twice what has come. Marked by
   its user value, so it is never mistaken for another attempt's state. */
typedef struct lsk_partial {
  size_t used, cap;
  char data[];
} lsk_partial;
static char partial_key;  /* its address marks a partial */

static lsk_partial *topartial(lua_State *L, int idx) {
  lsk_partial *p = NULL;
  if (lua_type(L, idx) == LUA_TUSERDATA &&
      lua_getiuservalue(L, idx, 1) == LUA_TLIGHTUSERDATA &&
      lua_touserdata(L, -1) == (void *)&partial_key)
    p = (lsk_partial *)lua_touserdata(L, idx);
  if (lua_type(L, idx) == LUA_TUSERDATA) lua_pop(L, 1);
  return p;
}

/* The error triple, plus the count an attempt left in the scratch slot
   as a fourth value: the bytes it sent before giving up (sendfile). */
static int failure(lua_State *L, int base, int err) {
  lsk_pusherror(L, err, NULL);
  if (lua_type(L, base + 2) != LUA_TNUMBER) return 3;
  lua_pushvalue(L, base + 2);
  return 4;
}

/* What a waiting operation returns when it gives up: the partial data an
   attempt left in the scratch slot (a string or an lsk_partial), or the
   error. */
static int giveup(lua_State *L, int base, int err) {
  lsk_partial *p;
  if (lua_type(L, base + 2) == LUA_TSTRING) {
    lua_pushvalue(L, base + 2);
    return 1;
  }
  if ((p = topartial(L, base + 2)) != NULL && p->used > 0) {
    lua_pushlstring(L, p->data, p->used);
    return 1;
  }
  return failure(L, base, err);
}

static int drive(lua_State *L, const lsk_op *op, lsk_socket *s);

/* The continuation of a yielded call: resumed with true (ready) or false
   (time is up). The socket may have been closed meanwhile. */
static int resumed(lua_State *L, int status, lua_KContext ctx) {
  const lsk_op *op = (const lsk_op *)ctx;
  int base = op->nargs, ready = lua_toboolean(L, base + 3);
  lsk_socket *s;
  (void)status;
  lua_settop(L, base + 2);
  /* Slot 1 is the socket the call checked before yielding; no Lua code
     can touch this frame, so its type need not be checked again. */
  s = (lsk_socket *)lua_touserdata(L, 1);
  if (s->fd < 0) return failure(L, base, EBADF);
  if (!ready) return giveup(L, base, ETIMEDOUT);
  return drive(L, op, s);
}

/* Runs op->attempt until it completes. Outside a loop task it polls the
   descriptor; inside one it yields and is continued by resumed(). The
   deadline is taken when the first wait starts and kept on the stack, so
   it holds across every wait of the call. */
static int drive(lua_State *L, const lsk_op *op, lsk_socket *s) {
  int base = op->nargs;
  for (;;) {
    int r = op->attempt(L, s, base), err;
    double left = -1;
    if (r >= 0) return r;
    lua_settop(L, base + 2);  /* drop what the attempt left */
    if (s->timeout == 0) return giveup(L, base, EAGAIN);
    if (s->timeout > 0) {
      if (lua_isnil(L, base + 1)) {
        lua_pushnumber(L, lsk_now() + s->timeout);
        lua_replace(L, base + 1);
      }
      left = lua_tonumber(L, base + 1) - lsk_now();
      if (left <= 0) return giveup(L, base, ETIMEDOUT);
    }
    if (lua_isyieldable(L) && lsk_isloopthread(L)) {
      lua_pushinteger(L, s->fd);
      lua_pushinteger(L, r == LSK_WANT_READ ? POLLIN : POLLOUT);
      if (left < 0)
        lua_pushnil(L);
      else
        lua_pushnumber(L, left);
      return lua_yieldk(L, 3, (lua_KContext)op, resumed);
    }
    err = lsk_poll1(s->fd, r == LSK_WANT_READ ? POLLIN : POLLOUT, left);
    if (err != 0) return giveup(L, base, err);
  }
}

int lsk_blocking(lua_State *L, const lsk_op *op, lsk_socket *s) {
  lua_settop(L, op->nargs);
  lua_pushnil(L);  /* deadline */
  lua_pushnil(L);  /* scratch */
  return drive(L, op, s);
}

static size_t checkcount(lua_State *L, lsk_socket *s, int idx) {
  lua_Integer n = luaL_checkinteger(L, idx);
  luaL_argcheck(L, n >= 0 && n <= INT_MAX, idx,
                "byte count must be between 0 and 2^31-1");
  if (s->type == SOCK_STREAM && n > LSK_STREAM_READ_MAX)
    n = LSK_STREAM_READ_MAX;
  return (size_t)n;
}

static int checkflags(lua_State *L, int idx) {
  lua_Integer f = luaL_optinteger(L, idx, 0);
  luaL_argcheck(L, f >= INT_MIN && f <= INT_MAX, idx, "flags out of range");
  return (int)f;
}

/* An errno after a failed transfer: wait, or report. MSG_DONTWAIT asks
   for EAGAIN instead of a wait. */
static int transfer_error(lua_State *L, int err, int flags, int want) {
  if ((err == EAGAIN || err == EWOULDBLOCK) && !(flags & MSG_DONTWAIT))
    return want;
  return lsk_pusherror(L, err, NULL);
}

/* A receive buffer: the C stack for a read of up to LSK_STACK_READ bytes,
   else a luaL_Buffer box (pushed on the stack, to-be-closed, so it is
   freed when the call returns, raises or waits). Nothing outlives the
   call: no read keeps memory for the next one. */
typedef struct lsk_rbuf {
  char *p;
  size_t size;
  int boxed;
  luaL_Buffer b;
  char stack[LSK_STACK_READ];
} lsk_rbuf;

static char *rbuf_init(lua_State *L, lsk_rbuf *rb, size_t size) {
  rb->size = size;
  rb->boxed = size > sizeof rb->stack;
  rb->p = rb->boxed ? luaL_buffinitsize(L, &rb->b, size) : rb->stack;
  return rb->p;
}

/* Pushes the first n bytes as a string (replacing the box, which must be
   at the top of the stack). */
static void rbuf_push(lua_State *L, lsk_rbuf *rb, size_t n) {
  if (rb->boxed)
    luaL_pushresultsize(&rb->b, n);
  else
    lua_pushlstring(L, rb->p, n);
}

static void rbuf_free(lua_State *L, lsk_rbuf *rb) {
  if (rb->boxed) {
    luaL_pushresultsize(&rb->b, 0);
    lua_pop(L, 1);
  }
}

static int wouldblock(int err) {
  return err == EAGAIN || err == EWOULDBLOCK;
}

/* How many bytes a read of at most n should make room for: what can
   arrive, so that a huge n costs nothing until data is there. A stream
   read takes what the kernel holds (at least a stack buffer's worth: a
   shorter read is allowed). A datagram read takes the next datagram's
   length (Linux: a MSG_PEEK | MSG_TRUNC probe; elsewhere FIONREAD, which
   counts at least the next datagram). When the probe fails (EAGAIN:
   nothing queued; or the socket's pending error, which it consumed),
   returns 0 with *err set. Flags that read another queue (MSG_ERRQUEUE,
   ...) keep n. */
static size_t readsize(lsk_socket *s, size_t n, int flags, int *err) {
  int avail = 0;
  *err = 0;
  if (n <= LSK_STACK_READ) return n;
  if (s->type == SOCK_STREAM) {
    if (ioctl(s->fd, FIONREAD, &avail) < 0 || avail < LSK_STACK_READ)
      return LSK_STACK_READ;
    return (size_t)avail < n ? (size_t)avail : n;
  }
  if (flags & ~(MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT | MSG_WAITALL))
    return n;
#if defined(__linux__)
  {
    ssize_t r;
    do r = recv(s->fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r >= 0) return (size_t)r < n ? (size_t)r : n;
    if (errno != EINVAL && errno != EOPNOTSUPP) {
      *err = errno;
      return 0;
    }
  }
#endif
  if (ioctl(s->fd, FIONREAD, &avail) == 0 && avail > 0)
    return (size_t)avail < n ? (size_t)avail : n;
  return n;
}

/* Linux TCP discards a MSG_TRUNC read's data without copying it. */
static int discards(const lsk_socket *s, int flags) {
  return LSK_TCP_TRUNC_DISCARDS && (flags & MSG_TRUNC) &&
         s->type == SOCK_STREAM &&
         (s->family == AF_INET || s->family == AF_INET6) &&
         (s->protocol == 0 || s->protocol == IPPROTO_TCP);
}

/* Bytes of a read's buffer the kernel filled, r being what it returned:
   only those are ever returned. With MSG_TRUNC a datagram's real length
   may exceed the buffer, and a discarding TCP read fills nothing. */
static size_t delivered(const lsk_socket *s, int flags, ssize_t r,
                        size_t size) {
  if (discards(s, flags)) return 0;
  return (size_t)r < size ? (size_t)r : size;
}

/* Prepares a read of at most n bytes: sizes and initialises rb. Returns
   0, or LSK_WANT_READ / an error count when nothing is queued, or when
   an earlier MSG_WAITALL read left an error to report. */
static int rbuf_prepare(lua_State *L, lsk_socket *s, lsk_rbuf *rb, size_t n,
                        int flags) {
  size_t size;
  int err;
  if (s->pending != 0) {
    err = s->pending;
    s->pending = 0;
    return lsk_pusherror(L, err, NULL);
  }
  size = readsize(s, n, flags, &err);
  if (err != 0) return transfer_error(L, err, flags, LSK_WANT_READ);
  rbuf_init(L, rb, size);
  /* a stack other than Linux TCP may discard MSG_TRUNC data as well:
     then the buffer holds zeros, never another read's bytes */
  if ((flags & MSG_TRUNC) && s->type == SOCK_STREAM && !discards(s, flags))
    memset(rb->p, 0, rb->size);
  return 0;
}

/* Appends len bytes to the MSG_WAITALL collection in the scratch slot,
   making or growing it (to at most n bytes). Returns the collection. */
static lsk_partial *collect(lua_State *L, int slot, const char *data,
                            size_t len, size_t n) {
  lsk_partial *p = topartial(L, slot);
  if (p == NULL || p->cap - p->used < len) {
    size_t used = p ? p->used : 0, cap = p ? p->cap * 2 : len;
    lsk_partial *q;
    if (cap < used + len) cap = used + len;
    if (cap > n) cap = n;
    q = (lsk_partial *)lua_newuserdatauv(L, sizeof *q + cap, 1);
    lua_pushlightuserdata(L, (void *)&partial_key);
    lua_setiuservalue(L, -2, 1);
    q->used = used;
    q->cap = cap;
    if (used > 0) memcpy(q->data, p->data, used);
    lua_replace(L, slot);
    p = q;
  }
  memcpy(p->data + p->used, data, len);
  p->used += len;
  return p;
}

/* recv(n[, flags]) -> data; with MSG_TRUNC also the kernel's count (a
   datagram's real length; on Linux TCP, the bytes discarded, while data
   is ""). MSG_WAITALL on a stream collects reads (in the scratch slot)
   until n bytes, EOF, an error or the timeout, and returns what has come
   before reporting any error. With MSG_PEEK it makes one read: peeking
   twice would return the same bytes twice. */
static int recv_attempt(lua_State *L, lsk_socket *s, int base) {
  size_t n = checkcount(L, s, 2), have = 0, got;
  int flags = checkflags(L, 3), r0;
  int waitall = (flags & MSG_WAITALL) && !(flags & MSG_PEEK) &&
                s->type == SOCK_STREAM && !discards(s, flags);
  lsk_partial *p = NULL;
  lsk_rbuf rb;
  ssize_t r;
  if (s->drained) {
    /* The last read took less than it asked for, so the buffer is most
       likely empty: wait for data first instead of spending a recv on
       EAGAIN. Only where waiting is allowed. */
    s->drained = 0;
    if (s->timeout != 0 && !(flags & (MSG_DONTWAIT | MSG_PEEK | MSG_OOB)))
      return LSK_WANT_READ;
  }
  if (waitall && (p = topartial(L, base + 2)) != NULL) have = p->used;
  if ((r0 = rbuf_prepare(L, s, &rb, n - have, flags)) != 0) return r0;
  do r = recv(s->fd, rb.p, rb.size, flags);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int err = errno;
    rbuf_free(L, &rb);
    if (have > 0 && !(wouldblock(err) && !(flags & MSG_DONTWAIT))) {
      if (!wouldblock(err)) s->pending = err;  /* the next read's */
      lua_pushlstring(L, p->data, p->used);
      return 1;
    }
    return transfer_error(L, err, flags, LSK_WANT_READ);
  }
  got = delivered(s, flags, r, rb.size);
  if (waitall && (have > 0 || (r > 0 && (size_t)r < n &&
                               !(flags & MSG_DONTWAIT)))) {
    p = collect(L, base + 2, rb.p, got, n);
    rbuf_free(L, &rb);
    if (r > 0 && p->used < n && !(flags & MSG_DONTWAIT))
      return LSK_WANT_READ;
    lua_pushlstring(L, p->data, p->used);
    p->used = 0;  /* handed over: a later give-up must not repeat it */
    return 1;
  }
  if (s->type == SOCK_STREAM && r > 0 && (size_t)r < n && !(flags & MSG_PEEK))
    s->drained = 1;
  rbuf_push(L, &rb, got);
  if (!(flags & MSG_TRUNC)) return 1;
  lua_pushinteger(L, r);
  return 2;
}

int lsk_recv_into(lua_State *L, lsk_socket *s, char *buf, size_t n,
                  size_t *got) {
  ssize_t r;
  if (s->pending != 0) {
    int err = s->pending;
    s->pending = 0;
    return lsk_pusherror(L, err, NULL);
  }
  if (s->drained) {          /* as recv_attempt: wait before reading */
    s->drained = 0;
    if (s->timeout != 0) return LSK_WANT_READ;
  }
  do r = recv(s->fd, buf, n, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int err = errno;
    return transfer_error(L, err, 0, LSK_WANT_READ);
  }
  if (s->type == SOCK_STREAM && r > 0 && (size_t)r < n) s->drained = 1;
  *got = (size_t)r;
  return 0;
}

static int sock_recv(lua_State *L) {
  static const lsk_op op = {recv_attempt, 3};
  return lsk_blocking(L, &op, lsk_checkopen(L, 1));
}

/* recvfrom(n[, flags]) -> data, host, port (unix: data, path) */
static int recvfrom_attempt(lua_State *L, lsk_socket *s, int base) {
  size_t n = checkcount(L, s, 2);
  int flags = checkflags(L, 3), r0;
  struct sockaddr_storage ss;
  socklen_t len;
  lsk_rbuf rb;
  ssize_t r;
  (void)base;
  if ((r0 = rbuf_prepare(L, s, &rb, n, flags)) != 0) return r0;
  do {
    len = sizeof ss;
    memset(&ss, 0, sizeof ss.ss_family);
    r = recvfrom(s->fd, rb.p, rb.size, flags, (struct sockaddr *)&ss, &len);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    int err = errno;
    rbuf_free(L, &rb);
    return transfer_error(L, err, flags, LSK_WANT_READ);
  }
  rbuf_push(L, &rb, delivered(s, flags, r, rb.size));
  return 1 + lsk_pushaddr(L, (struct sockaddr *)&ss, len);
}

static int sock_recvfrom(lua_State *L) {
  static const lsk_op op = {recvfrom_attempt, 3};
  return lsk_blocking(L, &op, lsk_checkopen(L, 1));
}

/* send(data[, flags]) -> bytes sent (possibly fewer than #data, as POSIX;
   the stream layer's write sends everything). */
static int send_attempt(lua_State *L, lsk_socket *s, int base) {
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int flags = checkflags(L, 3);
  ssize_t r;
  (void)base;
  do r = send(s->fd, data, len, flags | MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0) return transfer_error(L, errno, flags, LSK_WANT_WRITE);
  lua_pushinteger(L, r);
  return 1;
}

static int sock_send(lua_State *L) {
  static const lsk_op op = {send_attempt, 3};
  return lsk_blocking(L, &op, lsk_checkopen(L, 1));
}

/* sendto(data, host, port[, flags]) or, on a unix socket, sendto(data,
   path[, flags]) -> bytes sent */
static int sendto_attempt(lua_State *L, lsk_socket *s, int base) {
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int flags = checkflags(L, s->family == AF_UNIX ? 4 : 5);
  struct sockaddr_storage ss;
  socklen_t alen;
  ssize_t r;
  (void)base;
  if (lsk_toaddr(L, s->family, s->type, 3, &ss, &alen) != 0) return 3;
  do r = sendto(s->fd, data, len, flags | MSG_NOSIGNAL,
                (struct sockaddr *)&ss, alen);
  while (r < 0 && errno == EINTR);
  if (r < 0) return transfer_error(L, errno, flags, LSK_WANT_WRITE);
  lua_pushinteger(L, r);
  return 1;
}

static int sock_sendto(lua_State *L) {
  static const lsk_op op = {sendto_attempt, 5};
  return lsk_blocking(L, &op, lsk_checkopen(L, 1));
}

/* Fills fds from the list anc.fds (integers, sockets or Lua files);
   returns how many. */
static int ancfds(lua_State *L, int anc, int *fds) {
  int i, n;
  if (lua_getfield(L, anc, "fds") == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  luaL_argcheck(L, lua_istable(L, -1), 3, "'fds' must be a list");
  n = (int)luaL_len(L, -1);
  luaL_argcheck(L, n >= 0 && n <= LSK_MAX_FDS, 3,
                "'fds' may hold at most 253 descriptors");
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, -1, i + 1);
    fds[i] = lsk_fdarg(L, lua_gettop(L));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

static const char *const anc_fields[] = {"fds", "host", "port", "path", NULL};

/* The destination fields of anc (at 3) must fit the family: a unix
   socket takes path, the others host and port, both. A field of the
   other kind, or half an address, raises rather than being dropped (the
   datagram would go to the connected peer, or fail as EDESTADDRREQ). */
static void checkdest(lua_State *L, int family) {
  int host = lua_getfield(L, 3, "host") != LUA_TNIL;
  int port = lua_getfield(L, 3, "port") != LUA_TNIL;
  int path = lua_getfield(L, 3, "path") != LUA_TNIL;
  lua_pop(L, 3);
  if (family == AF_UNIX) {
    luaL_argcheck(L, !host && !port, 3,
                  "a unix socket's destination is 'path', not 'host' and 'port'");
  } else {
    luaL_argcheck(L, !path, 3, "'path' is for unix sockets: give 'host' and 'port'");
    luaL_argcheck(L, host == port, 3, "'host' and 'port' go together");
  }
}

/* sendmsg(data[, anc[, flags]]) -> bytes sent. anc.fds: descriptors to
   pass (SCM_RIGHTS); anc.host and anc.port (or anc.path) address a
   datagram on an unconnected socket. */
static int sendmsg_attempt(lua_State *L, lsk_socket *s, int base) {
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * LSK_MAX_FDS)];
  } control;
  int fds[LSK_MAX_FDS], nfds = 0, flags = checkflags(L, 4);
  struct sockaddr_storage ss;
  struct msghdr msg;
  struct iovec iov;
  size_t len;
  ssize_t r;
  (void)base;
  /* sendmsg does not write through iov_base; the cast only drops const */
  iov.iov_base = (void *)(uintptr_t)luaL_checklstring(L, 2, &len);
  iov.iov_len = len;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lsk_checkfields(L, 3, anc_fields);
    nfds = ancfds(L, 3, fds);
    checkdest(L, s->family);
    lua_getfield(L, 3, s->family == AF_UNIX ? "path" : "host");
    if (!lua_isnil(L, -1)) {
      socklen_t alen;
      int top = lua_gettop(L);
      lua_getfield(L, 3, "port");
      if (lsk_toaddr(L, s->family, s->type, top, &ss, &alen) != 0) return 3;
      msg.msg_name = &ss;
      msg.msg_namelen = alen;
    }
  }
  if (nfds > 0) {
    struct cmsghdr *c;
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
  }
  do r = sendmsg(s->fd, &msg, flags | MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0) return transfer_error(L, errno, flags, LSK_WANT_WRITE);
  lua_pushinteger(L, r);
  return 1;
}

static int sock_sendmsg(lua_State *L) {
  static const lsk_op op = {sendmsg_attempt, 4};
  return lsk_blocking(L, &op, lsk_checkopen(L, 1));
}

/* recvmsg(n[, flags[, maxfds]]) -> data, info: info.flags (MSG_TRUNC,
   MSG_CTRUNC, ...), info.fds (received descriptors, close-on-exec), and
   for datagrams info.host and info.port (unix: info.path). maxfds (default
   and most 253) sizes the control buffer; descriptors beyond it are closed
   by the kernel, which sets MSG_CTRUNC. The tables are made before the
   call, so nothing can raise while received descriptors are not yet in
   Lua's hands. */
static int recvmsg_attempt(lua_State *L, lsk_socket *s, int base) {
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * LSK_MAX_FDS)];
  } control;
  size_t n = checkcount(L, s, 2);
  int flags = checkflags(L, 3), nfd = 0, info, fdlist, r0;
  lua_Integer maxfds = luaL_optinteger(L, 4, LSK_MAX_FDS);
  struct sockaddr_storage ss;
  struct msghdr msg;
  struct iovec iov;
  struct cmsghdr *c;
  lsk_rbuf rb;
  ssize_t r;
  (void)base;
  luaL_argcheck(L, maxfds >= 0 && maxfds <= LSK_MAX_FDS, 4,
                "maxfds must be between 0 and 253");
  lua_createtable(L, 0, 4);
  info = lua_gettop(L);
  lua_createtable(L, LSK_MAX_FDS, 0);
  fdlist = lua_gettop(L);
  if ((r0 = rbuf_prepare(L, s, &rb, n, flags)) != 0) return r0;
  /* from here to the end the box (if any) stays at the top */
  iov.iov_base = rb.p;
  iov.iov_len = rb.size;
  do {
    memset(&msg, 0, sizeof msg);
    memset(&ss, 0, sizeof ss.ss_family);
    msg.msg_name = &ss;
    msg.msg_namelen = sizeof ss;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (maxfds > 0) {
      msg.msg_control = control.buf;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)maxfds);
    }
    r = recvmsg(s->fd, &msg, flags | MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    int err = errno;
    rbuf_free(L, &rb);
    lua_settop(L, info - 1);
    return transfer_error(L, err, flags, LSK_WANT_READ);
  }
  for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t k, count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (k = 0; k < count; k++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
        if (nfd < maxfds) {
#if MSG_CMSG_CLOEXEC == 0
          lsk_setcloexec(fd);
#endif
          lua_pushinteger(L, fd);
          lua_rawseti(L, fdlist, ++nfd);
        }
        else {  /* the control buffer's padding let in more than asked */
          close(fd);
          msg.msg_flags |= MSG_CTRUNC;
        }
      }
    }
  }
  lua_pushvalue(L, fdlist);
  lua_setfield(L, info, "fds");
  /* the kernel echoes the MSG_CMSG_CLOEXEC lunasock added itself: report
     it only when the caller asked for it */
  lua_pushinteger(L, msg.msg_flags & ~(MSG_CMSG_CLOEXEC & ~flags));
  lua_setfield(L, info, "flags");
  if (msg.msg_namelen > 0 && s->type != SOCK_STREAM) {
    int k = lsk_pushaddr(L, (struct sockaddr *)&ss, msg.msg_namelen);
    if (k == 2) {
      lua_setfield(L, info, "port");
      lua_setfield(L, info, "host");
    }
    else
      lua_setfield(L, info, "path");
  }
  rbuf_push(L, &rb, delivered(s, flags, r, rb.size));
  lua_replace(L, fdlist);  /* data, info -> info, data */
  lua_insert(L, info);
  return 2;
}

static int sock_recvmsg(lua_State *L) {
  static const lsk_op op = {recvmsg_attempt, 4};
  return lsk_blocking(L, &op, lsk_checkopen(L, 1));
}

const luaL_Reg lsk_io_funcs[] = {
  {"cosocket", core_cosocket},
  {"iscosocket", core_iscosocket},
  {"setclosehook", core_setclosehook},
  {"monotime", core_monotime},
  {NULL, NULL}
};

const luaL_Reg lsk_io_methods[] = {
  {"recv", sock_recv},
  {"recvfrom", sock_recvfrom},
  {"send", sock_send},
  {"sendto", sock_sendto},
  {"sendmsg", sock_sendmsg},
  {"recvmsg", sock_recvmsg},
  {NULL, NULL}
};
