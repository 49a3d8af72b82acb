/* lunasock.tls: the TLS socket's methods. See LICENSE. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "tls.h"

/* The most one recv returns: one TLS record's plaintext. */
#define TLS_READ_MAX 16384
/* How long close() (and shutdown("w")) wait, at most, for ciphertext the
   socket had not taken and the close_notify alert to go out; less when
   the socket's timeout is shorter. */
#define TLS_CLOSE_LINGER 2.0

/* ---------------------------------------------------------------- closing */

static lsk_tls *totls(lua_State *L, int idx) {
  void *p = lua_touserdata(L, idx);
  if (p != NULL && lua_getmetatable(L, idx)) {
    int same = lua_rawequal(L, -1, TLS_UV_SOCKMT);
    lua_pop(L, 1);
    if (same) return (lsk_tls *)p;
  }
  luaL_typeerror(L, idx, LSK_TLS_SOCKET);
  return NULL;
}

lsk_tls *lsk_tls_checkopen(lua_State *L, int idx) {
  lsk_tls *t = totls(L, idx);
  if (t->ssl == NULL || lsk_tls_fd(t) < 0)
    luaL_error(L, "attempt to use a closed TLS socket");
  return t;
}

/* Queues close_notify once, on a healthy connection (never after a fatal
   error, as OpenSSL requires). Sent at once unless the socket is full. */
static void notify(lsk_tls *t) {
  if (t->ssl != NULL && t->handshaken && !t->fatal && !t->closing) {
    ERR_clear_error();
    SSL_shutdown(t->ssl);
    ERR_clear_error();
    t->closing = 1;
  }
}

/* Reads and drops what has arrived and nobody will read. Closing a TCP
   socket with unread data makes the kernel send RST instead of FIN, and
   an RST makes the peer's kernel drop what it had received and not yet
   handed over: a TLS 1.3 client that never reads gets the server's
   session tickets, and its last writes were lost with them. Bounded. */
static void drain(int fd) {
  char buf[4096];
  int i;
  for (i = 0; fd >= 0 && i < 64; i++) {
    ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
  }
}

/* Frees the TLS state and closes the core socket through its own close,
   so that the loop's close hook runs. The TLS socket is at idx. */
void lsk_tls_finish(lua_State *L, lsk_tls *t, int idx) {
  if (t->ssl != NULL) {
    notify(t);
    lsk_tls_flush(t);   /* one try: what is left is dropped */
    SSL_free(t->ssl);
    t->ssl = NULL;
    ERR_clear_error();
    drain(lsk_tls_fd(t));
  }
  free(t->out);
  t->out = NULL;
  t->outpos = t->outlen = t->outcap = 0;
  if (lua_getiuservalue(L, idx, 1) == LUA_TUSERDATA) {
    lua_getfield(L, TLS_UV_CORE, "close");
    lua_insert(L, -2);
    lua_call(L, 1, 0);
  }
  else
    lua_pop(L, 1);
}

static int close_attempt(lua_State *L, lsk_tls *t) {
  int r;
  notify(t);
  r = lsk_tls_flush(t);
  if (r == LSK_WANT_WRITE) return r;
  lsk_tls_finish(L, t, 1);
  lua_pushboolean(L, 1);
  return 1;
}

static int close_giveup(lua_State *L, lsk_tls *t, int err) {
  (void)err;
  lsk_tls_finish(L, t, 1);
  lua_pushboolean(L, 1);
  return 1;
}

static double lingertime(lsk_tls *t) {
  double s = t->sock != NULL ? t->sock->timeout : 0;
  return s < 0 || s > TLS_CLOSE_LINGER ? TLS_CLOSE_LINGER : s;
}

/* close() -> true: close_notify and what the socket had not taken yet go
   out (waiting at most TLS_CLOSE_LINGER seconds, or the socket's
   timeout), then the socket is closed. Idempotent. */
static int tls_close(lua_State *L) {
  static const lsk_tls_op op = {close_attempt, close_giveup, 1};
  lsk_tls *t = totls(L, 1);
  if (t->ssl == NULL || lsk_tls_fd(t) < 0) {
    lsk_tls_finish(L, t, 1);
    lua_pushboolean(L, 1);
    return 1;
  }
  return lsk_tls_run(L, &op, t, lingertime(t));
}

/* __gc and __close: as close, without waiting. */
static int tls_gc(lua_State *L) {
  lsk_tls_finish(L, totls(L, 1), 1);
  return 0;
}

/* ---------------------------------------------------------------- transfer */

static int checkflags(lua_State *L, int idx, int allowed, const char *which) {
  lua_Integer f = luaL_optinteger(L, idx, 0);
  luaL_argcheck(L, f >= 0 && (f & ~(lua_Integer)allowed) == 0, idx, which);
  return (int)f;
}

/* recv(n[, flags]) -> data; "" after the peer's close_notify. flags:
   MSG_PEEK, MSG_DONTWAIT. */
static int recv_attempt(lua_State *L, lsk_tls *t) {
  char buf[TLS_READ_MAX];
  lua_Integer want = luaL_checkinteger(L, 2);
  int flags = checkflags(L, 3, MSG_PEEK | MSG_DONTWAIT,
                         "only MSG_PEEK and MSG_DONTWAIT apply to TLS");
  size_t n, got = 0;
  int r, w;
  luaL_argcheck(L, want >= 0 && want <= INT_MAX, 2,
                "byte count must be between 0 and 2^31-1");
  if (t->fatal) return lsk_tls_pushfatal(L, t);
  if (t->rdshut || want == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  n = want > TLS_READ_MAX ? TLS_READ_MAX : (size_t)want;
  w = lsk_tls_flush(t);
  if (w > 0) return lsk_tls_failerrno(L, t, w);
  ERR_clear_error();
  t->err = 0;
  r = (flags & MSG_PEEK) ? SSL_peek_ex(t->ssl, buf, n, &got)
                         : SSL_read_ex(t->ssl, buf, n, &got);
  if (r == 1) {
    lua_pushlstring(L, buf, got);
    return 1;
  }
  r = lsk_tls_failure(L, t, 0, 0);
  if (r == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  if (r < 0) {
    if (t->outpos < t->outlen) r = LSK_WANT_WRITE;
    if (flags & MSG_DONTWAIT) return lsk_tls_pusherrno(L, EAGAIN);
  }
  return r;
}

void lsk_tls_pump(lua_State *L, lsk_tls *t) {
  int top = lua_gettop(L), r;
  size_t got = 0;
  char c;
  if (t->fatal || !t->handshaken || t->rdshut) return;
  ERR_clear_error();
  t->err = 0;
  r = SSL_peek_ex(t->ssl, &c, 1, &got);
  if (r != 1) lsk_tls_failure(L, t, r, 0);
  lua_settop(L, top);
  ERR_clear_error();
}

static int tls_recv(lua_State *L) {
  static const lsk_tls_op op = {recv_attempt, NULL, 3};
  lsk_tls *t = lsk_tls_checkopen(L, 1);
  return lsk_tls_run(L, &op, t, t->sock->timeout);
}

/* send(data[, flags]) -> bytes the TLS layer took: as many whole records
   as the socket accepts without waiting; it waits only while it can take
   nothing. flags: MSG_DONTWAIT (and MSG_NOSIGNAL, always on). */
static int send_attempt(lua_State *L, lsk_tls *t) {
  size_t len, total = 0;
  const char *data = luaL_checklstring(L, 2, &len);
  int flags = checkflags(L, 3, MSG_DONTWAIT | MSG_NOSIGNAL,
                         "only MSG_DONTWAIT and MSG_NOSIGNAL apply to TLS");
  int r;
  if (t->fatal) return lsk_tls_pushfatal(L, t);
  if (t->closing) return lsk_tls_pusherrno(L, EPIPE);
  r = lsk_tls_flush(t);
  if (r > 0) return lsk_tls_failerrno(L, t, r);
  if (r < 0)
    return (flags & MSG_DONTWAIT) ? lsk_tls_pusherrno(L, EAGAIN) : r;
  while (total < len) {
    size_t wrote = 0;
    ERR_clear_error();
    t->err = 0;
    r = SSL_write_ex(t->ssl, data + total, len - total, &wrote);
    if (r != 1) {
      r = lsk_tls_failure(L, t, 0, 0);
      if (r == 0) return lsk_tls_pusherrno(L, EPIPE);
      if (r > 0) return r;
      if (total > 0) break;
      return (flags & MSG_DONTWAIT) ? lsk_tls_pusherrno(L, EAGAIN) : r;
    }
    total += wrote;
    if (t->outpos < t->outlen) break;  /* the socket is full */
  }
  lua_pushinteger(L, (lua_Integer)total);
  return 1;
}

static int tls_send(lua_State *L) {
  static const lsk_tls_op op = {send_attempt, NULL, 3};
  lsk_tls *t = lsk_tls_checkopen(L, 1);
  return lsk_tls_run(L, &op, t, t->sock->timeout);
}

/* shutdown([how]): "w" (and "rw") sends close_notify first, flushing
   what the socket holds (bounded by the close linger); after "r", recv
   returns "" ("r" alone waits for nothing). Then the socket's own
   shutdown. */
static int shutdown_attempt(lua_State *L, lsk_tls *t) {
  int r = lsk_tls_flush(t);
  if (r == LSK_WANT_WRITE) return r;
  lua_getfield(L, TLS_UV_CORE, "shutdown");
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_call(L, 2, LUA_MULTRET);
  return lua_gettop(L) - 3;
}

static int tls_shutdown(lua_State *L) {
  static const lsk_tls_op op = {shutdown_attempt, NULL, 2};
  static const char *const names[] = {"r", "w", "rw", NULL};
  lsk_tls *t = lsk_tls_checkopen(L, 1);
  int rd = 1, wr = 1;
  lua_settop(L, 2);
  /* how is checked before anything changes: a refused call must not
     have half-closed the connection (close_notify sent, recv ended) */
  if (lua_type(L, 2) == LUA_TSTRING) {
    int i = luaL_checkoption(L, 2, NULL, names);
    rd = i != 1;
    wr = i != 0;
  }
  else if (!lua_isnil(L, 2)) {
    lua_Integer how = luaL_checkinteger(L, 2);
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
      return lsk_tls_pusherrno(L, EINVAL);  /* as shutdown(2) says */
    rd = how != SHUT_WR;
    wr = how != SHUT_RD;
  }
  if (rd) t->rdshut = 1;
  if (!wr) {
    /* The read side has nothing to flush: ciphertext still held for a
       peer that is not reading must not hold this up (it waited the
       close linger and failed ETIMEDOUT); it goes out with later sends. */
    lua_getfield(L, TLS_UV_CORE, "shutdown");  /* 3 */
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, LUA_MULTRET);
    return lua_gettop(L) - 2;
  }
  if (!t->fatal) notify(t);
  return lsk_tls_run(L, &op, t, lingertime(t));
}

/* ---------------------------------------------------------------- plumbing */

static int tls_settimeout(lua_State *L) {
  lsk_tls *t = lsk_tls_checkopen(L, 1);
  lua_Number s;
  if (lua_isnoneornil(L, 2))
    t->sock->timeout = -1;
  else {
    s = luaL_checknumber(L, 2);
    luaL_argcheck(L, s >= 0 && s <= LSK_MAX_TIMEOUT, 2,
                  "timeout must be nil or between 0 and 1e9 seconds");
    t->sock->timeout = (double)s;
  }
  lua_settop(L, 1);
  return 1;
}

static int tls_gettimeout(lua_State *L) {
  lsk_tls *t = lsk_tls_checkopen(L, 1);
  if (t->sock->timeout < 0)
    lua_pushnil(L);
  else
    lua_pushnumber(L, t->sock->timeout);
  return 1;
}

static int tls_setblocking(lua_State *L) {
  lsk_tls *t = lsk_tls_checkopen(L, 1);
  luaL_checkany(L, 2);
  t->sock->timeout = lua_toboolean(L, 2) ? -1 : 0;
  lua_settop(L, 1);
  return 1;
}

/* pending() -> bytes of plaintext a recv returns without reading the
   descriptor, and bytes of ciphertext held for a socket that was full
   (sent by the next send, recv or close). poll(2) sees neither: records
   read ahead from the descriptor (read_ahead takes all that is there)
   and not yet decrypted are decrypted first, so that a caller waiting
   on the descriptor when both are 0 never waits for data already read. */
static int tls_pending(lua_State *L) {
  lsk_tls *t = lsk_tls_checkopen(L, 1);
  if (SSL_pending(t->ssl) == 0 && SSL_has_pending(t->ssl))
    lsk_tls_pump(L, t);
  lua_pushinteger(L, SSL_pending(t->ssl));
  lua_pushinteger(L, (lua_Integer)(t->outlen - t->outpos));
  return 2;
}

static int tls_fileno(lua_State *L) {
  lua_pushinteger(L, lsk_tls_fd(lsk_tls_checkopen(L, 1)));
  return 1;
}

/* Calls the core socket's method name with this call's other arguments. */
static int forward(lua_State *L, const char *name) {
  lsk_tls_checkopen(L, 1);
  lua_getfield(L, TLS_UV_CORE, name);
  lua_insert(L, 1);
  lua_getiuservalue(L, 2, 1);
  lua_replace(L, 2);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

static int tls_getsockname(lua_State *L) { return forward(L, "getsockname"); }
static int tls_getpeername(lua_State *L) { return forward(L, "getpeername"); }
static int tls_setopt(lua_State *L) { return forward(L, "setopt"); }
static int tls_getopt(lua_State *L) { return forward(L, "getopt"); }
static int tls_family(lua_State *L) { return forward(L, "family"); }
static int tls_socktype(lua_State *L) { return forward(L, "socktype"); }

static int tls_tostring(lua_State *L) {
  lsk_tls *t = totls(L, 1);
  if (t->ssl == NULL || lsk_tls_fd(t) < 0)
    lua_pushliteral(L, LSK_TLS_SOCKET " (closed)");
  else
    lua_pushfstring(L, LSK_TLS_SOCKET " (%s %s, fd %d)",
                    t->server ? "server" : "client",
                    t->handshaken ? SSL_get_version(t->ssl) : "handshake",
                    lsk_tls_fd(t));
  return 1;
}

const luaL_Reg lsk_tls_socket_methods[] = {
  {"send", tls_send},
  {"recv", tls_recv},
  {"close", tls_close},
  {"shutdown", tls_shutdown},
  {"settimeout", tls_settimeout},
  {"gettimeout", tls_gettimeout},
  {"setblocking", tls_setblocking},
  {"fileno", tls_fileno},
  {"pending", tls_pending},
  {"getsockname", tls_getsockname},
  {"getpeername", tls_getpeername},
  {"setopt", tls_setopt},
  {"getopt", tls_getopt},
  {"family", tls_family},
  {"socktype", tls_socktype},
  {NULL, NULL}
};

const luaL_Reg lsk_tls_socket_meta[] = {
  {"__gc", tls_gc},
  {"__close", tls_gc},
  {"__tostring", tls_tostring},
  {NULL, NULL}
};
