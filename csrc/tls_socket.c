/* lunasock.tls: TLS sockets: wrap, the handshake, transfer and waiting.
   See LICENSE. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* MSG_NOSIGNAL keeps a send to a closed peer from raising SIGPIPE; where
   it is missing, lunasock.core sets SO_NOSIGPIPE on every socket. */
#if !defined(MSG_NOSIGNAL)
#define MSG_NOSIGNAL 0
#endif

/* The most one recv returns: one TLS record's plaintext. */
#define TLS_READ_MAX 16384
/* How long close() (and shutdown("w")) wait, at most, for ciphertext the
   socket had not taken and the close_notify alert to go out; less when
   the socket's timeout is shorter. */
#define TLS_CLOSE_LINGER 2.0

/* ---------------------------------------------------------------- BIO
   OpenSSL reads and writes the core socket's descriptor through this
   BIO: send with MSG_NOSIGNAL (OpenSSL's socket BIO uses write(2), which
   raises SIGPIPE), and writes never "block": what the socket does not
   take is kept in t->out and flushed by the next call. So SSL_write and
   the handshake never ask to be retried with the same arguments, and a
   send reports honestly what the TLS layer accepted. */

static BIO_METHOD *biomethod;
static CRYPTO_ONCE bioonce = CRYPTO_ONCE_STATIC_INIT;

static int fdof(lsk_tls *t) {
  return t->sock != NULL ? t->sock->fd : -1;
}

static int keep(lsk_tls *t, const char *data, size_t len) {
  if (t->outpos > 0 && t->outpos == t->outlen)
    t->outpos = t->outlen = 0;
  if (t->outlen + len > t->outcap) {
    size_t cap = t->outcap ? t->outcap : 4096;
    char *p;
    while (cap < t->outlen + len) cap *= 2;
    p = (char *)realloc(t->out, cap);
    if (p == NULL) return ENOMEM;
    t->out = p;
    t->outcap = cap;
  }
  memcpy(t->out + t->outlen, data, len);
  t->outlen += len;
  return 0;
}

static int bio_write(BIO *b, const char *data, int len) {
  lsk_tls *t = (lsk_tls *)BIO_get_data(b);
  size_t done = 0;
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  if (fdof(t) < 0) {
    t->err = EBADF;
    return -1;
  }
  if (t->outpos == t->outlen) {
    ssize_t r;
    do r = send(fdof(t), data, (size_t)len, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      t->err = errno;
      return -1;
    }
    done = r < 0 ? 0 : (size_t)r;
  }
  if (done < (size_t)len && (t->err = keep(t, data + done, len - done)) != 0)
    return -1;
  return len;
}

static int bio_read(BIO *b, char *buf, int len) {
  lsk_tls *t = (lsk_tls *)BIO_get_data(b);
  ssize_t r;
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  if (fdof(t) < 0) {
    t->err = EBADF;
    return -1;
  }
  do r = recv(fdof(t), buf, (size_t)len, 0);
  while (r < 0 && errno == EINTR);
  if (r >= 0) return (int)r;
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    BIO_set_retry_read(b);
  else
    t->err = errno;
  return -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b; (void)num; (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static void makemethod(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                               "lunasock socket");
  if (m == NULL) return;
  BIO_meth_set_write(m, bio_write);
  BIO_meth_set_read(m, bio_read);
  BIO_meth_set_ctrl(m, bio_ctrl);
  BIO_meth_set_create(m, bio_create);
  biomethod = m;
}

/* Sends what t->out holds. 0 once empty, LSK_WANT_WRITE while the
   socket is full, or an errno. */
static int flushout(lsk_tls *t) {
  while (t->outpos < t->outlen) {
    ssize_t r;
    if (fdof(t) < 0) return EBADF;
    do r = send(fdof(t), t->out + t->outpos, t->outlen - t->outpos,
                MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return LSK_WANT_WRITE;
      return errno;
    }
    t->outpos += (size_t)r;
  }
  t->outpos = t->outlen = 0;
  return 0;
}

/* ---------------------------------------------------------------- errors */

static int pushfatal(lua_State *L, lsk_tls *t) {
  if (t->fatalerr != 0) return lsk_tls_pusherrno(L, t->fatalerr);
  return lsk_tls_pushfail(L, t->fatalmsg, t->fatal);
}

static int fail(lua_State *L, lsk_tls *t, const char *code, const char *msg) {
  t->fatal = code;
  snprintf(t->fatalmsg, sizeof t->fatalmsg, "%s", msg);
  ERR_clear_error();
  return pushfatal(L, t);
}

static int failerrno(lua_State *L, lsk_tls *t, int err) {
  t->fatal = "errno";
  t->fatalerr = err;
  ERR_clear_error();
  return pushfatal(L, t);
}

/* Alerts a peer sends when it rejects our certificate. */
static int rejected(int reason) {
  switch (reason) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return 1;
    default:
      return 0;
  }
}

/* After an SSL call returned r <= 0: LSK_WANT_READ or LSK_WANT_WRITE
   when it must wait, 0 at the peer's close_notify, or the failure pushed
   as nil, msg, code (3) and remembered: the connection is unusable after
   it. The error queue is left empty. */
static int failure(lua_State *L, lsk_tls *t, int r, int handshake) {
  int e = SSL_get_error(t->ssl, r), lib, reason;
  unsigned long err;
  const char *why;
  char msg[256];
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return e == SSL_ERROR_WANT_READ ? LSK_WANT_READ : LSK_WANT_WRITE;
  }
  if (e == SSL_ERROR_ZERO_RETURN && !handshake) {
    ERR_clear_error();
    return 0;
  }
  if (t->cberr[0] != '\0') return fail(L, t, TLS_E_HANDSHAKE, t->cberr);
  if (t->err != 0) return failerrno(L, t, t->err);
  err = ERR_peek_error();
  lib = ERR_GET_LIB(err);
  reason = ERR_GET_REASON(err);
  why = ERR_reason_error_string(err);
  if (why == NULL) why = "unknown error";
  if (err == 0 || (lib == ERR_LIB_SSL
                   && reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
    if (handshake)
      return fail(L, t, TLS_E_HANDSHAKE,
                  "connection closed by the peer during the TLS handshake");
    return fail(L, t, TLS_E_TRUNCATED,
                "connection closed without close_notify (truncated)");
  }
  if (lib == ERR_LIB_SSL && reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    long v = SSL_get_verify_result(t->ssl);
    snprintf(msg, sizeof msg, "certificate verify failed: %s",
             X509_verify_cert_error_string(v));
    return fail(L, t, v == X509_V_ERR_HOSTNAME_MISMATCH
                      || v == X509_V_ERR_IP_ADDRESS_MISMATCH
                      ? TLS_E_HOSTNAME : TLS_E_VERIFY, msg);
  }
  if (lib == ERR_LIB_SSL && (reason == SSL_R_NO_APPLICATION_PROTOCOL
      || reason == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)) {
    snprintf(msg, sizeof msg, "no application protocol in common (ALPN): "
             "%s", why);
    return fail(L, t, TLS_E_ALPN, msg);
  }
  if (lib == ERR_LIB_SSL && reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
    return fail(L, t, TLS_E_VERIFY, "the peer sent no certificate");
  if (lib == ERR_LIB_SSL && rejected(reason)) {
    snprintf(msg, sizeof msg, "the peer rejected our certificate: %s", why);
    return fail(L, t, TLS_E_VERIFY, msg);
  }
  snprintf(msg, sizeof msg, "%s%s", handshake ? "TLS handshake failed: "
                                              : "TLS error: ", why);
  return fail(L, t, handshake ? TLS_E_HANDSHAKE : TLS_E_PROTOCOL, msg);
}

/* ---------------------------------------------------------------- waiting
   As lunasock.core's io.c: an attempt makes one try and returns a count
   of results pushed, or LSK_WANT_READ / LSK_WANT_WRITE. drive() waits:
   inside a loop task (core.iscosocket) it yields fd, events, seconds
   left to the scheduler, and is continued by resumed(); elsewhere it
   polls. Stack: 1 the TLS socket, 2..nargs arguments, nargs+1 the
   deadline (nil: none). */

typedef struct tls_op {
  int (*attempt)(lua_State *L, lsk_tls *t);
  int (*giveup)(lua_State *L, lsk_tls *t, int err);  /* NULL: the error */
  int nargs;
} tls_op;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* poll(2) on one descriptor for at most timeout seconds (< 0: forever):
   0 when ready, ETIMEDOUT, or the error. */
static int poll1(int fd, int events, double timeout) {
  struct pollfd p;
  double deadline = timeout >= 0 ? now() + timeout : 0;
  for (;;) {
    int ms = -1, r;
    if (timeout >= 0) {
      double left = deadline - now();
      if (left <= 0) return ETIMEDOUT;
      ms = left * 1000 >= INT_MAX ? INT_MAX : (int)ceil(left * 1000);
    }
    p.fd = fd;
    p.events = (short)events;
    p.revents = 0;
    r = poll(&p, 1, ms);
    if (r > 0) return 0;
    if (r == 0) continue;
    if (errno != EINTR) return errno;
  }
}

static int giveup(lua_State *L, const tls_op *op, lsk_tls *t, int err) {
  if (op->giveup != NULL) return op->giveup(L, t, err);
  return lsk_tls_pusherrno(L, err);
}

static int iscosocket(lua_State *L) {
  int yes;
  if (!lua_isyieldable(L)) return 0;
  lua_getfield(L, TLS_UV_CORE, "iscosocket");
  lua_call(L, 0, 1);
  yes = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return yes;
}

static int drive(lua_State *L, const tls_op *op, lsk_tls *t, double timeout);

static int resumed(lua_State *L, int status, lua_KContext ctx) {
  const tls_op *op = (const tls_op *)ctx;
  int ready = lua_toboolean(L, op->nargs + 2);
  /* slot 1 is the TLS socket drive() was given: no Lua code can reach
     this frame, so it need not be checked again */
  lsk_tls *t = (lsk_tls *)lua_touserdata(L, 1);
  (void)status;
  lua_settop(L, op->nargs + 1);
  if (t->ssl == NULL || fdof(t) < 0) return giveup(L, op, t, EBADF);
  if (!ready) return giveup(L, op, t, ETIMEDOUT);
  return drive(L, op, t, -1);
}

/* timeout: seconds for the whole call (< 0 none, 0 never wait); a
   deadline already in the slot is kept. */
static int drive(lua_State *L, const tls_op *op, lsk_tls *t, double timeout) {
  int deadline = op->nargs + 1;
  for (;;) {
    int r = op->attempt(L, t), err;
    double left = -1;
    if (r >= 0) return r;
    lua_settop(L, deadline);
    if (timeout == 0) return giveup(L, op, t, EAGAIN);
    if (timeout > 0 && lua_isnil(L, deadline)) {
      lua_pushnumber(L, now() + timeout);
      lua_replace(L, deadline);
    }
    if (!lua_isnil(L, deadline)) {
      left = lua_tonumber(L, deadline) - now();
      if (left <= 0) return giveup(L, op, t, ETIMEDOUT);
    }
    if (iscosocket(L)) {
      lua_pushinteger(L, fdof(t));
      lua_pushinteger(L, r == LSK_WANT_READ ? POLLIN : POLLOUT);
      if (left < 0)
        lua_pushnil(L);
      else
        lua_pushnumber(L, left);
      return lua_yieldk(L, 3, (lua_KContext)op, resumed);
    }
    err = poll1(fdof(t), r == LSK_WANT_READ ? POLLIN : POLLOUT, left);
    if (err != 0) return giveup(L, op, t, err);
  }
}

static int run(lua_State *L, const tls_op *op, lsk_tls *t, double timeout) {
  lua_settop(L, op->nargs);
  lua_pushnil(L);  /* deadline */
  return drive(L, op, t, timeout);
}

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
  if (t->ssl == NULL || fdof(t) < 0)
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

/* Frees the TLS state and closes the core socket through its own close,
   so that the loop's close hook runs. The TLS socket is at idx. */
static void finish(lua_State *L, lsk_tls *t, int idx) {
  if (t->ssl != NULL) {
    notify(t);
    flushout(t);   /* one try: what is left is dropped */
    SSL_free(t->ssl);
    t->ssl = NULL;
    ERR_clear_error();
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
  r = flushout(t);
  if (r == LSK_WANT_WRITE) return r;
  finish(L, t, 1);
  lua_pushboolean(L, 1);
  return 1;
}

static int close_giveup(lua_State *L, lsk_tls *t, int err) {
  (void)err;
  finish(L, t, 1);
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
  static const tls_op op = {close_attempt, close_giveup, 1};
  lsk_tls *t = totls(L, 1);
  if (t->ssl == NULL || fdof(t) < 0) {
    finish(L, t, 1);
    lua_pushboolean(L, 1);
    return 1;
  }
  return run(L, &op, t, lingertime(t));
}

/* __gc and __close: as close, without waiting. */
static int tls_gc(lua_State *L) {
  finish(L, totls(L, 1), 1);
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
  if (t->fatal) return pushfatal(L, t);
  if (t->rdshut || want == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  n = want > TLS_READ_MAX ? TLS_READ_MAX : (size_t)want;
  w = flushout(t);
  if (w > 0) return failerrno(L, t, w);
  ERR_clear_error();
  t->err = 0;
  r = (flags & MSG_PEEK) ? SSL_peek_ex(t->ssl, buf, n, &got)
                         : SSL_read_ex(t->ssl, buf, n, &got);
  if (r == 1) {
    lua_pushlstring(L, buf, got);
    return 1;
  }
  r = failure(L, t, 0, 0);
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
  if (r != 1) failure(L, t, r, 0);
  lua_settop(L, top);
  ERR_clear_error();
}

static int tls_recv(lua_State *L) {
  static const tls_op op = {recv_attempt, NULL, 3};
  lsk_tls *t = lsk_tls_checkopen(L, 1);
  return run(L, &op, t, t->sock->timeout);
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
  if (t->fatal) return pushfatal(L, t);
  if (t->closing) return lsk_tls_pusherrno(L, EPIPE);
  r = flushout(t);
  if (r > 0) return failerrno(L, t, r);
  if (r < 0)
    return (flags & MSG_DONTWAIT) ? lsk_tls_pusherrno(L, EAGAIN) : r;
  while (total < len) {
    size_t wrote = 0;
    ERR_clear_error();
    t->err = 0;
    r = SSL_write_ex(t->ssl, data + total, len - total, &wrote);
    if (r != 1) {
      r = failure(L, t, 0, 0);
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
  static const tls_op op = {send_attempt, NULL, 3};
  lsk_tls *t = lsk_tls_checkopen(L, 1);
  return run(L, &op, t, t->sock->timeout);
}

/* shutdown([how]): "w" (and "rw") sends close_notify first; after "r",
   recv returns "". Then the socket's own shutdown. */
static int shutdown_attempt(lua_State *L, lsk_tls *t) {
  int r = flushout(t);
  if (r == LSK_WANT_WRITE) return r;
  lua_getfield(L, TLS_UV_CORE, "shutdown");
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_call(L, 2, LUA_MULTRET);
  return lua_gettop(L) - 3;
}

static int tls_shutdown(lua_State *L) {
  static const tls_op op = {shutdown_attempt, NULL, 2};
  lsk_tls *t = lsk_tls_checkopen(L, 1);
  int rd = 1, wr = 1;
  lua_settop(L, 2);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *how = lua_tostring(L, 2);
    rd = strchr(how, 'r') != NULL;
    wr = strchr(how, 'w') != NULL;
  }
  else if (lua_isinteger(L, 2)) {
    rd = lua_tointeger(L, 2) != SHUT_WR;
    wr = lua_tointeger(L, 2) != SHUT_RD;
  }
  if (rd) t->rdshut = 1;
  if (wr && !t->fatal) notify(t);
  return run(L, &op, t, lingertime(t));
}

/* ---------------------------------------------------------------- wrap */

static int isip(const char *name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name, buf) == 1
         || inet_pton(AF_INET6, name, buf) == 1;
}

static int handshake_attempt(lua_State *L, lsk_tls *t) {
  int r;
  if (!t->handshaken) {
    ERR_clear_error();
    t->err = 0;
    t->cberr[0] = '\0';
    t->L = L;
    t->selfidx = 1;
    r = SSL_do_handshake(t->ssl);
    t->L = NULL;
    if (r != 1) {
      r = failure(L, t, r, 1);
      if (r < 0) return r;
      finish(L, t, 1);  /* the alert, if any, goes out first */
      return 3;
    }
    t->handshaken = 1;
    ERR_clear_error();
  }
  r = flushout(t);
  if (r == LSK_WANT_WRITE) return r;
  if (r != 0) {
    failerrno(L, t, r);
    finish(L, t, 1);
    return 3;
  }
  lua_pushvalue(L, 1);
  return 1;
}

static int handshake_giveup(lua_State *L, lsk_tls *t, int err) {
  finish(L, t, 1);
  return lsk_tls_pusherrno(L, err);
}

/* Looks up the server name the client sent in the sni table or function
   of the context at user value 2 of the TLS socket (argument 1); pushes
   the context chosen, or nil. Runs protected (lsk_tls_sni). */
static int sni_lookup(lua_State *L) {
  lua_getiuservalue(L, 1, 2);     /* 3: the socket's context */
  if (lua_getiuservalue(L, 3, 2) == LUA_TFUNCTION) {  /* 4: the handler */
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
  }
  else if (lua_istable(L, 4)) {
    lua_pushvalue(L, 2);
    lua_gettable(L, 4);
  }
  else
    lua_pushnil(L);
  if (!lua_isnil(L, -1)) {
    lsk_tlsctx *c = (lsk_tlsctx *)luaL_testudata(L, -1, LSK_TLS_CONTEXT);
    if (c == NULL || !c->server || c->ctx == NULL)
      luaL_error(L, "sni: a server context expected for \"%s\", got %s",
                 lua_tostring(L, 2), luaL_typename(L, -1));
  }
  return 1;
}

/* OpenSSL's servername callback, during SSL_do_handshake on t->L: picks
   the context for the name the client sent. The Lua side runs protected
   (an error must not unwind through OpenSSL) and cannot yield. */
int lsk_tls_sni(SSL *ssl, int *alert, void *arg) {
  lsk_tls *t = (lsk_tls *)SSL_get_app_data(ssl);
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  lua_State *L;
  lsk_tlsctx *c;
  (void)arg;
  if (t == NULL || t->L == NULL || name == NULL) return SSL_TLSEXT_ERR_OK;
  L = t->L;
  if (!lua_checkstack(L, 8)) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  lua_pushcfunction(L, sni_lookup);
  lua_pushvalue(L, t->selfidx);
  lua_pushstring(L, name);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    snprintf(t->cberr, sizeof t->cberr, "%s",
             lua_tostring(L, -1) ? lua_tostring(L, -1) : "sni: error");
    lua_pop(L, 1);
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  c = (lsk_tlsctx *)lua_touserdata(L, -1);
  if (c != NULL && SSL_set_SSL_CTX(ssl, c->ctx) != NULL) {
    lua_setiuservalue(L, t->selfidx, 3);  /* kept alive with the socket */
    return SSL_TLSEXT_ERR_OK;
  }
  lua_pop(L, 1);
  return SSL_TLSEXT_ERR_OK;
}

/* The core socket at idx, open and a stream. */
static lsk_socket *coresock(lua_State *L, int idx) {
  lsk_socket *s = (lsk_socket *)lua_touserdata(L, idx);
  int same = 0;
  if (s != NULL && lua_getmetatable(L, idx)) {
    same = lua_rawequal(L, -1, TLS_UV_COREMT);
    lua_pop(L, 1);
  }
  if (!same) luaL_typeerror(L, idx, LSK_SOCKET);
  if (s->fd < 0) luaL_error(L, "attempt to use a closed socket");
  luaL_argcheck(L, s->type == SOCK_STREAM, idx, "a stream socket expected");
  return s;
}

static const char *const wrap_options[] = {
  "servername", "verify_host", "alpn", "session", "timeout", NULL
};

/* tls.wrap(sock, ctx_or_opts[, opts]) -> TLS socket, handshake done; or
   nil, msg, code with sock closed. Stack: 1 sock, 2 context, 3 opts, 4
   the ALPN wire string, 5 the session given. */
static int tls_wrap(lua_State *L) {
  static const tls_op op = {handshake_attempt, handshake_giveup, 1};
  lsk_socket *s = coresock(L, 1);
  const char *servername = NULL, *host = NULL;
  double timeout = s->timeout;
  SSL_SESSION *sess = NULL;
  lsk_tlsctx *c;
  lsk_tls *t;
  int nohost = 0;
  BIO *bio;
  lua_settop(L, 3);
  if (lua_type(L, 2) != LUA_TTABLE) lsk_tls_toctx(L, 2);
  lua_pushnil(L);  /* 4 */
  lua_pushnil(L);  /* 5 */
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lsk_tls_checknames(L, 3, "tls.wrap", wrap_options);
    if (lua_getfield(L, 3, "servername") != LUA_TNIL) {
      size_t len;
      servername = lua_tolstring(L, -1, &len);
      if (lua_type(L, -1) != LUA_TSTRING || len == 0 || strlen(servername)
          != len)
        luaL_error(L, "tls.wrap: option 'servername' must be a non-empty "
                      "string");
    }
    lua_pop(L, 1);  /* still in opts: the pointer stays valid */
    if (lua_getfield(L, 3, "verify_host") == LUA_TBOOLEAN
        && !lua_toboolean(L, -1))
      nohost = 1;
    else if (!lua_isnil(L, -1)) {
      size_t len;
      host = lua_tolstring(L, -1, &len);
      if (lua_type(L, -1) != LUA_TSTRING || len == 0 || strlen(host) != len)
        luaL_error(L, "tls.wrap: option 'verify_host' must be a non-empty "
                      "string or false");
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 3, "alpn") != LUA_TNIL) {
      lsk_tls_pushalpn(L, lua_gettop(L), "tls.wrap");
      lua_replace(L, 4);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 3, "session") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING && !lsk_tls_tosession(L, -1))
        luaL_error(L, "tls.wrap: option 'session' must be a session (from "
                      "session()) or its string");
      lua_replace(L, 5);
    }
    else
      lua_pop(L, 1);
    if (lua_getfield(L, 3, "timeout") != LUA_TNIL) {
      if (!lua_isnumber(L, -1))
        luaL_error(L, "tls.wrap: option 'timeout' must be a number");
      timeout = lua_tonumber(L, -1);
      if (!(timeout >= 0 && timeout <= LSK_MAX_TIMEOUT))
        luaL_error(L, "tls.wrap: option 'timeout' must be between 0 and "
                      "1e9 seconds");
    }
    lua_pop(L, 1);
  }
  if (lua_type(L, 2) == LUA_TTABLE) {
    if (lsk_tls_newcontext(L, 2) != 1) {  /* nil, msg, "TLS_CONFIG" */
      lua_getfield(L, TLS_UV_CORE, "close");
      lua_pushvalue(L, 1);
      lua_call(L, 1, 0);
      return 3;
    }
    lua_replace(L, 2);
  }
  c = lsk_tls_toctx(L, 2);
  luaL_argcheck(L, c->ctx != NULL, 2, "a usable context expected");
  if (c->server) {
    if (servername || host || nohost || !lua_isnil(L, 4) || !lua_isnil(L, 5))
      luaL_error(L, "tls.wrap: servername, verify_host, alpn and session "
                    "are for clients (a server's context has alpn and sni)");
  }
  else if (c->verify && !nohost) {
    if (host == NULL) host = servername;
    if (host == NULL)
      luaL_error(L, "tls.wrap: a verifying client needs the name it dialled:"
                    " opts.servername (or opts.verify_host; false checks the"
                    " chain only)");
  }
  if (lua_type(L, 5) == LUA_TSTRING) {
    size_t len;
    const unsigned char *p = (const unsigned char *)lua_tolstring(L, 5, &len);
    if (len > LONG_MAX || (sess = d2i_SSL_SESSION(NULL, &p, (long)len)) == NULL)
      luaL_error(L, "tls.wrap: option 'session' is not a valid session");
    SSL_SESSION_free(sess);  /* parsed again below, once nothing raises */
    sess = NULL;
  }
  t = (lsk_tls *)lua_newuserdatauv(L, sizeof *t, 3);
  memset(t, 0, sizeof *t);
  t->sock = s;
  t->server = c->server;
  lua_pushvalue(L, TLS_UV_SOCKMT);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, 2);
  lua_replace(L, 1);  /* the core socket stays as user value 1 */
  ERR_clear_error();
  CRYPTO_THREAD_run_once(&bioonce, makemethod);
  if (biomethod == NULL || (t->ssl = SSL_new(c->ctx)) == NULL) {
    lsk_tls_pushssl(L, "SSL_new", TLS_E_CONFIG);
    finish(L, t, 1);
    return 3;
  }
  if ((bio = BIO_new(biomethod)) == NULL) {
    lsk_tls_pushssl(L, "BIO_new", TLS_E_CONFIG);
    finish(L, t, 1);
    return 3;
  }
  BIO_set_data(bio, t);
  SSL_set_bio(t->ssl, bio, bio);
  SSL_set_app_data(t->ssl, t);
  if (c->server)
    SSL_set_accept_state(t->ssl);
  else {
    int ok = 1;
    SSL_set_connect_state(t->ssl);
    if (servername != NULL && !isip(servername))
      ok = SSL_set_tlsext_host_name(t->ssl, servername);
    if (ok && host != NULL) {
      if (isip(host))
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
      else {
        ok = SSL_set1_host(t->ssl, host);
        SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      }
    }
    if (ok && lua_type(L, 4) == LUA_TSTRING) {
      size_t len;
      const char *p = lua_tolstring(L, 4, &len);
      ok = SSL_set_alpn_protos(t->ssl, (const unsigned char *)p,
                               (unsigned)len) == 0;
    }
    if (ok && lua_type(L, 5) == LUA_TSTRING) {
      size_t len;
      const unsigned char *p = (const unsigned char *)lua_tolstring(L, 5,
                                                                    &len);
      sess = d2i_SSL_SESSION(NULL, &p, (long)len);
      ok = sess != NULL && SSL_set_session(t->ssl, sess);
      SSL_SESSION_free(sess);
    }
    else if (ok && !lua_isnil(L, 5))
      ok = SSL_set_session(t->ssl, lsk_tls_tosession(L, 5));
    if (!ok) {
      lsk_tls_pushssl(L, "tls.wrap: servername, verify_host, alpn or session",
                      TLS_E_CONFIG);
      finish(L, t, 1);
      return 3;
    }
  }
  return run(L, &op, t, timeout);
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

static int tls_fileno(lua_State *L) {
  lua_pushinteger(L, fdof(lsk_tls_checkopen(L, 1)));
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
  if (t->ssl == NULL || fdof(t) < 0)
    lua_pushliteral(L, LSK_TLS_SOCKET " (closed)");
  else
    lua_pushfstring(L, LSK_TLS_SOCKET " (%s %s, fd %d)",
                    t->server ? "server" : "client",
                    t->handshaken ? SSL_get_version(t->ssl) : "handshake",
                    fdof(t));
  return 1;
}

const luaL_Reg lsk_tls_socket_funcs[] = {
  {"wrap", tls_wrap},
  {NULL, NULL}
};

const luaL_Reg lsk_tls_socket_methods[] = {
  {"send", tls_send},
  {"recv", tls_recv},
  {"close", tls_close},
  {"shutdown", tls_shutdown},
  {"settimeout", tls_settimeout},
  {"gettimeout", tls_gettimeout},
  {"setblocking", tls_setblocking},
  {"fileno", tls_fileno},
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
