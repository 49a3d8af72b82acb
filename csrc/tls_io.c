/* lunasock.tls: the transport under OpenSSL (a BIO on the core socket's
   descriptor), error mapping, and waiting. See LICENSE. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "tls.h"

/* MSG_NOSIGNAL keeps a send to a closed peer from raising SIGPIPE; where
   it is missing, lunasock.core sets SO_NOSIGPIPE on every socket. */
#if !defined(MSG_NOSIGNAL)
#define MSG_NOSIGNAL 0
#endif

/* ---------------------------------------------------------------- BIO
   OpenSSL reads and writes the core socket's descriptor through this
   BIO: send with MSG_NOSIGNAL (OpenSSL's socket BIO uses write(2), which
   raises SIGPIPE), and writes never "block": what the socket does not
   take is kept in t->out and flushed by the next call. So SSL_write and
   the handshake never ask to be retried with the same arguments, and a
   send reports honestly what the TLS layer accepted. */

int lsk_tls_fd(lsk_tls *t) {
  return t->sock != NULL ? t->sock->fd : -1;
}

/* Appends to t->out (what is pending moved to the front first). */
static int keep(lsk_tls *t, const char *data, size_t len) {
  if (t->outpos > 0) {
    memmove(t->out, t->out + t->outpos, t->outlen - t->outpos);
    t->outlen -= t->outpos;
    t->outpos = 0;
  }
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
  if (lsk_tls_fd(t) < 0) {
    t->err = EBADF;
    return -1;
  }
  if (t->outpos == t->outlen) {
    ssize_t r;
    do r = send(lsk_tls_fd(t), data, (size_t)len, MSG_NOSIGNAL);
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
  if (lsk_tls_fd(t) < 0) {
    t->err = EBADF;
    return -1;
  }
  do r = recv(lsk_tls_fd(t), buf, (size_t)len, 0);
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

BIO_METHOD *lsk_tls_biomethod(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                               "lunasock socket");
  if (m == NULL) return NULL;
  if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read)
      || !BIO_meth_set_ctrl(m, bio_ctrl)
      || !BIO_meth_set_create(m, bio_create)) {
    BIO_meth_free(m);
    return NULL;
  }
  return m;
}

/* Sends what t->out holds. 0 once empty, LSK_WANT_WRITE while the
   socket is full, or an errno. */
int lsk_tls_flush(lsk_tls *t) {
  while (t->outpos < t->outlen) {
    ssize_t r;
    if (lsk_tls_fd(t) < 0) return EBADF;
    do r = send(lsk_tls_fd(t), t->out + t->outpos, t->outlen - t->outpos,
                MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return LSK_WANT_WRITE;
      return errno;
    }
    t->outpos += (size_t)r;
  }
  /* nothing pending: the buffer goes too (it is needed only while the
     socket is full; idle connections hold none) */
  free(t->out);
  t->out = NULL;
  t->outpos = t->outlen = t->outcap = 0;
  return 0;
}

/* ---------------------------------------------------------------- errors */

int lsk_tls_pushfatal(lua_State *L, lsk_tls *t) {
  if (t->fatalerr != 0) return lsk_tls_pusherrno(L, t->fatalerr);
  return lsk_tls_pushfail(L, t->fatalmsg, t->fatal);
}

int lsk_tls_fail(lua_State *L, lsk_tls *t, const char *code, const char *msg) {
  t->fatal = code;
  if (msg != t->fatalmsg)
    snprintf(t->fatalmsg, sizeof t->fatalmsg, "%s", msg);
  ERR_clear_error();
  return lsk_tls_pushfatal(L, t);
}

int lsk_tls_failerrno(lua_State *L, lsk_tls *t, int err) {
  t->fatal = "errno";
  t->fatalerr = err;
  ERR_clear_error();
  return lsk_tls_pushfatal(L, t);
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
int lsk_tls_failure(lua_State *L, lsk_tls *t, int r, int handshake) {
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
  if (t->cbfailed) return lsk_tls_fail(L, t, TLS_E_HANDSHAKE, t->fatalmsg);
  if (t->err != 0) return lsk_tls_failerrno(L, t, t->err);
  err = ERR_peek_error();
  lib = ERR_GET_LIB(err);
  reason = ERR_GET_REASON(err);
  why = ERR_reason_error_string(err);
  if (why == NULL) why = "unknown error";
  if (err == 0 || (lib == ERR_LIB_SSL
                   && reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
    if (handshake)
      return lsk_tls_fail(L, t, TLS_E_HANDSHAKE,
                  "connection closed by the peer during the TLS handshake");
    return lsk_tls_fail(L, t, TLS_E_TRUNCATED,
                "connection closed without close_notify (truncated)");
  }
  if (lib == ERR_LIB_SSL && reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    long v = SSL_get_verify_result(t->ssl);
    snprintf(msg, sizeof msg, "certificate verify failed: %s",
             X509_verify_cert_error_string(v));
    return lsk_tls_fail(L, t, v == X509_V_ERR_HOSTNAME_MISMATCH
                      || v == X509_V_ERR_IP_ADDRESS_MISMATCH
                      ? TLS_E_HOSTNAME : TLS_E_VERIFY, msg);
  }
  if (lib == ERR_LIB_SSL && (reason == SSL_R_NO_APPLICATION_PROTOCOL
      || reason == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)) {
    snprintf(msg, sizeof msg, "no application protocol in common (ALPN): "
             "%s", why);
    return lsk_tls_fail(L, t, TLS_E_ALPN, msg);
  }
  if (lib == ERR_LIB_SSL && reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
    return lsk_tls_fail(L, t, TLS_E_VERIFY, "the peer sent no certificate");
  if (lib == ERR_LIB_SSL && rejected(reason)) {
    snprintf(msg, sizeof msg, "the peer rejected our certificate: %s", why);
    return lsk_tls_fail(L, t, TLS_E_VERIFY, msg);
  }
  snprintf(msg, sizeof msg, "%s%s", handshake ? "TLS handshake failed: "
                                              : "TLS error: ", why);
  return lsk_tls_fail(L, t, handshake ? TLS_E_HANDSHAKE : TLS_E_PROTOCOL, msg);
}

/* ---------------------------------------------------------------- waiting
   As lunasock.core's io.c: an attempt makes one try and returns a count
   of results pushed, or LSK_WANT_READ / LSK_WANT_WRITE. drive() waits:
   inside a loop task (core.iscosocket) it yields fd, events, seconds
   left to the scheduler, and is continued by resumed(); elsewhere it
   polls. Stack: 1 the TLS socket, 2..nargs arguments, nargs+1 the
   deadline (nil: none). */

static int giveup(lua_State *L, const lsk_tls_op *op, lsk_tls *t, int err) {
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

static int drive(lua_State *L, const lsk_tls_op *op, lsk_tls *t,
                 double timeout);

static int resumed(lua_State *L, int status, lua_KContext ctx) {
  const lsk_tls_op *op = (const lsk_tls_op *)ctx;
  int ready = lua_toboolean(L, op->nargs + 2);
  /* slot 1 is the TLS socket drive() was given: no Lua code can reach
     this frame, so it need not be checked again */
  lsk_tls *t = (lsk_tls *)lua_touserdata(L, 1);
  (void)status;
  lua_settop(L, op->nargs + 1);
  if (t->ssl == NULL || lsk_tls_fd(t) < 0) return giveup(L, op, t, EBADF);
  if (!ready) return giveup(L, op, t, ETIMEDOUT);
  return drive(L, op, t, -1);
}

/* timeout: seconds for the whole call (< 0 none, 0 never wait); a
   deadline already in the slot is kept. */
static int drive(lua_State *L, const lsk_tls_op *op, lsk_tls *t,
                 double timeout) {
  int deadline = op->nargs + 1;
  for (;;) {
    int r = op->attempt(L, t), err;
    double left = -1;
    if (r >= 0) return r;
    lua_settop(L, deadline);
    if (timeout == 0) return giveup(L, op, t, EAGAIN);
    if (timeout > 0 && lua_isnil(L, deadline)) {
      lua_pushnumber(L, lsk_now() + timeout);
      lua_replace(L, deadline);
    }
    if (!lua_isnil(L, deadline)) {
      left = lua_tonumber(L, deadline) - lsk_now();
      if (left <= 0) return giveup(L, op, t, ETIMEDOUT);
    }
    if (iscosocket(L)) {
      lua_pushinteger(L, lsk_tls_fd(t));
      lua_pushinteger(L, r == LSK_WANT_READ ? POLLIN : POLLOUT);
      if (left < 0)
        lua_pushnil(L);
      else
        lua_pushnumber(L, left);
      return lua_yieldk(L, 3, (lua_KContext)op, resumed);
    }
    err = lsk_poll1(lsk_tls_fd(t), r == LSK_WANT_READ ? POLLIN : POLLOUT, left);
    if (err != 0) return giveup(L, op, t, err);
  }
}

int lsk_tls_run(lua_State *L, const lsk_tls_op *op, lsk_tls *t,
                double timeout) {
  lua_settop(L, op->nargs);
  lua_pushnil(L);  /* deadline */
  return drive(L, op, t, timeout);
}

