/* lunasock.tls: tls.wrap, the handshake and SNI. See LICENSE. */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* ---------------------------------------------------------------- wrap */

/* Whether name is an IP address literal ("127.0.0.1", "::1", or "[::1]"
   as in URLs); if so, its text without brackets goes to ip (>= 64). */
static int isip(const char *name, char *ip) {
  unsigned char buf[16];
  size_t len = strlen(name);
  if (len >= 2 && len < 64 && name[0] == '[' && name[len - 1] == ']') {
    memcpy(ip, name + 1, len - 2);
    ip[len - 2] = '\0';
    return inet_pton(AF_INET6, ip, buf) == 1;
  }
  if (len >= 64) return 0;
  memcpy(ip, name, len + 1);
  return inet_pton(AF_INET, ip, buf) == 1 || inet_pton(AF_INET6, ip, buf) == 1;
}

/* A resumed handshake checks no certificate: the session's peer was
   checked when the session was made, perhaps for another name, or not at
   all (a session from a context with verify = false, or given as DER).
   A verifying client checks the session's verdict and its certificate
   against the name it dials now, and fails as a full handshake would.
   0, or the failure pushed (3). */
static int resumecheck(lua_State *L, lsk_tls *t) {
  SSL *ssl = t->ssl;
  X509 *peer = SSL_get0_peer_certificate(ssl);
  X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
  const char *host;
  char *ip, msg[256];
  long v;
  int match = 1;
  if (t->server || !SSL_session_reused(ssl)
      || SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE)
    return 0;
  v = peer != NULL ? SSL_get_verify_result(ssl) : X509_V_ERR_UNSPECIFIED;
  if (v != X509_V_OK) {
    snprintf(msg, sizeof msg, "certificate verify failed: %s (a resumed "
             "session's)", X509_verify_cert_error_string(v));
    return lsk_tls_fail(L, t, TLS_E_VERIFY, msg);
  }
  host = X509_VERIFY_PARAM_get0_host(param, 0);
  if (host != NULL)
    match = X509_check_host(peer, host, 0,
                            X509_VERIFY_PARAM_get_hostflags(param), NULL) == 1;
  ip = X509_VERIFY_PARAM_get1_ip_asc(param);
  if (ip != NULL) {
    match = match && X509_check_ip_asc(peer, ip, 0) == 1;
    OPENSSL_free(ip);
  }
  if (!match)
    return lsk_tls_fail(L, t, TLS_E_HOSTNAME, host != NULL
                        ? "certificate verify failed: hostname mismatch (a "
                          "resumed session's)"
                        : "certificate verify failed: IP address mismatch (a "
                          "resumed session's)");
  return 0;
}

static int handshake_attempt(lua_State *L, lsk_tls *t) {
  int r;
  if (!t->handshaken) {
    ERR_clear_error();
    t->err = 0;
    t->cbfailed = 0;
    t->L = L;
    t->selfidx = 1;
    r = SSL_do_handshake(t->ssl);
    t->L = NULL;
    if (r != 1) {
      r = lsk_tls_failure(L, t, r, 1);
      if (r < 0) return r;
      lsk_tls_finish(L, t, 1);  /* the alert, if any, goes out first */
      return 3;
    }
    if (resumecheck(L, t) != 0) {
      lsk_tls_finish(L, t, 1);
      return 3;
    }
    t->handshaken = 1;
    ERR_clear_error();
  }
  r = lsk_tls_flush(t);
  if (r == LSK_WANT_WRITE) return r;
  if (r != 0) {
    lsk_tls_failerrno(L, t, r);
    lsk_tls_finish(L, t, 1);
    return 3;
  }
  lua_pushvalue(L, 1);
  return 1;
}

static int handshake_giveup(lua_State *L, lsk_tls *t, int err) {
  lsk_tls_finish(L, t, 1);
  return lsk_tls_pusherrno(L, err);
}

/* Looks up the server name the client sent in the sni table or function
   of the context at user value 2 of the TLS socket (argument 1); pushes
   the context chosen, or nil. Runs protected (lsk_tls_hello). */
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

/* SSL_set_SSL_CTX takes the new context's certificate and store, but
   not its verify mode (a context chosen by SNI with verify = true asked
   no client for a certificate), nor its versions or ciphers (its
   min_version = "tls1.3" served TLS 1.2): the connection takes them here,
   from the context at the top of L's stack, before OpenSSL chooses the
   version and the cipher (the ClientHello callback runs first). */
static void adopt(lua_State *L, lsk_tls *t, SSL *ssl, SSL_CTX *ctx) {
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx),
                 SSL_CTX_get_verify_callback(ctx));
  SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));
  SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx));
  SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(ctx));
  lua_getiuservalue(L, -1, 3);
  SSL_set_cipher_list(ssl, lua_isstring(L, -1) ? lua_tostring(L, -1)
                                               : OSSL_default_cipher_list());
  lua_getiuservalue(L, -2, 4);
  SSL_set_ciphersuites(ssl, lua_isstring(L, -1) ? lua_tostring(L, -1)
                                                : OSSL_default_ciphersuites());
  lua_pop(L, 2);
  t->adopted = 1;
}

/* The host name in the ClientHello's server_name extension (RFC 6066),
   copied to buf with a NUL: 1, or 0 when there is none (or it is
   malformed, or longer than a DNS name: OpenSSL judges it next). */
static int hello_name(SSL *ssl, char *buf, size_t size) {
  const unsigned char *p;
  size_t len, n;
  if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len)
      || len < 5 || (size_t)(p[0] << 8 | p[1]) != len - 2
      || p[2] != TLSEXT_NAMETYPE_host_name)
    return 0;
  n = (size_t)(p[3] << 8 | p[4]);
  if (n == 0 || n + 5 > len || n >= size || memchr(p + 5, 0, n) != NULL)
    return 0;
  memcpy(buf, p + 5, n);
  buf[n] = '\0';
  return 1;
}

/* OpenSSL's ClientHello callback, during SSL_do_handshake on t->L: picks
   the context for the name the client sent, before anything is
   negotiated (the servername callback came after the version and, under
   TLS 1.3, the cipher were chosen from the first context's settings).
   The Lua side runs protected (an error must not unwind through OpenSSL)
   and cannot yield. */
int lsk_tls_hello(SSL *ssl, int *alert, void *arg) {
  lsk_tls *t = (lsk_tls *)SSL_get_app_data(ssl);
  char name[256];
  lua_State *L;
  lsk_tlsctx *c;
  (void)arg;
  if (t == NULL || t->L == NULL || t->adopted  /* a second ClientHello */
      || !hello_name(ssl, name, sizeof name))
    return SSL_CLIENT_HELLO_SUCCESS;
  L = t->L;
  if (!lua_checkstack(L, 8)) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  lua_pushcfunction(L, sni_lookup);
  lua_pushvalue(L, t->selfidx);
  lua_pushstring(L, name);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    snprintf(t->fatalmsg, sizeof t->fatalmsg, "%s",
             lua_tostring(L, -1) ? lua_tostring(L, -1) : "sni: error");
    t->cbfailed = 1;
    lua_pop(L, 1);
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  c = (lsk_tlsctx *)lua_touserdata(L, -1);
  if (c != NULL && SSL_set_SSL_CTX(ssl, c->ctx) != NULL) {
    adopt(L, t, ssl, c->ctx);
    lua_setiuservalue(L, t->selfidx, 3);  /* kept alive with the socket */
    return SSL_CLIENT_HELLO_SUCCESS;
  }
  lua_pop(L, 1);
  return SSL_CLIENT_HELLO_SUCCESS;
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
   the ALPN wire string, 5 the session given, 6 servername, 7
   verify_host: the names stay on the stack until OpenSSL has copied
   them (opts may make them with __index: popped, they could be freed). */
static int tls_wrap(lua_State *L) {
  static const lsk_tls_op op = {handshake_attempt, handshake_giveup, 1};
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
  if (lua_isnil(L, 3)) {
    lua_pushnil(L);  /* 6 */
    lua_pushnil(L);  /* 7 */
  }
  else {
    luaL_checktype(L, 3, LUA_TTABLE);
    lsk_tls_checknames(L, 3, "tls.wrap", wrap_options);
    if (lua_getfield(L, 3, "servername") != LUA_TNIL) {  /* 6 */
      size_t len = 0;
      /* the type first: lua_tolstring would turn a number into a name */
      if (lua_type(L, -1) == LUA_TSTRING)
        servername = lua_tolstring(L, -1, &len);
      if (servername == NULL || len == 0 || strlen(servername) != len)
        luaL_error(L, "tls.wrap: option 'servername' must be a non-empty "
                      "string");
    }
    if (lua_getfield(L, 3, "verify_host") == LUA_TBOOLEAN  /* 7 */
        && !lua_toboolean(L, -1))
      nohost = 1;
    else if (!lua_isnil(L, -1)) {
      size_t len = 0;
      if (lua_type(L, -1) == LUA_TSTRING)
        host = lua_tolstring(L, -1, &len);
      if (host == NULL || len == 0 || strlen(host) != len)
        luaL_error(L, "tls.wrap: option 'verify_host' must be a non-empty "
                      "string or false");
    }
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
    if (len > LONG_MAX
        || (sess = d2i_SSL_SESSION(NULL, &p, (long)len)) == NULL) {
      ERR_clear_error();
      luaL_error(L, "tls.wrap: option 'session' is not a valid session");
    }
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
  if ((t->ssl = SSL_new(c->ctx)) == NULL) {
    lsk_tls_pushssl(L, "SSL_new", TLS_E_CONFIG);
    lsk_tls_finish(L, t, 1);
    return 3;
  }
  bio = BIO_new(*(BIO_METHOD **)lua_touserdata(L, TLS_UV_BIO));
  if (bio == NULL) {
    lsk_tls_pushssl(L, "BIO_new", TLS_E_CONFIG);
    lsk_tls_finish(L, t, 1);
    return 3;
  }
  BIO_set_data(bio, t);
  SSL_set_bio(t->ssl, bio, bio);
  SSL_set_app_data(t->ssl, t);
  if (c->server)
    SSL_set_accept_state(t->ssl);
  else {
    char ip[64];
    int ok = 1;
    SSL_set_connect_state(t->ssl);
    if (servername != NULL && !isip(servername, ip))
      ok = SSL_set_tlsext_host_name(t->ssl, servername);
    if (ok && host != NULL) {
      if (isip(host, ip))
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), ip);
      else {
        ok = SSL_set1_host(t->ssl, host);
        /* RFC 6125 and browsers: names come from the subjectAltName only,
           never the subject's CN; no partial wildcards (x*.example) */
        SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
                          | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
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
      lsk_tls_finish(L, t, 1);
      return 3;
    }
  }
  return lsk_tls_run(L, &op, t, timeout);
}

const luaL_Reg lsk_tls_wrap_funcs[] = {
  {"wrap", tls_wrap},
  {NULL, NULL}
};
