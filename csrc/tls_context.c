/* lunasock.tls: contexts (tls.context). See LICENSE. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls.h"

/* Debian's CA bundle: loaded as well when the library's default paths
   give nothing (an OpenSSL built with another OPENSSLDIR). */
#define TLS_SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* The options tls.context knows; any other name is a programmer error. */
static const char *const option_names[] = {
  "mode", "verify", "cafile", "capath", "ca", "cert", "key", "password",
  "min_version", "max_version", "ciphers", "ciphersuites", "alpn", "sni",
  NULL
};

void lsk_tls_checknames(lua_State *L, int opts, const char *fn,
                        const char *const *names) {
  lua_pushnil(L);
  while (lua_next(L, opts) != 0) {
    int i, known = 0;
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "unknown option (a %s key) to '%s'",
                 luaL_typename(L, -2), fn);
    for (i = 0; names[i] != NULL && !known; i++)
      known = strcmp(lua_tostring(L, -2), names[i]) == 0;
    if (!known)
      luaL_error(L, "unknown option '%s' to '%s'", lua_tostring(L, -2), fn);
    lua_pop(L, 1);
  }
}

/* opts[name] as a string (NULL when nil); len may be NULL. Raises on
   another type. Leaves the value on the stack. */
static const char *optstring(lua_State *L, int opts, const char *name,
                             size_t *len) {
  int t = lua_getfield(L, opts, name);
  if (t == LUA_TNIL) return NULL;
  if (t != LUA_TSTRING)
    luaL_error(L, "tls.context: option '%s' must be a string (got %s)",
               name, luaL_typename(L, -1));
  return lua_tolstring(L, -1, len);
}

/* A path option: a string without NUL bytes. */
static const char *optpath(lua_State *L, int opts, const char *name) {
  size_t len;
  const char *s = optstring(L, opts, name, &len);
  if (s != NULL && strlen(s) != len)
    luaL_error(L, "tls.context: option '%s' contains a NUL byte", name);
  return s;
}

static int optbool(lua_State *L, int opts, const char *name, int dflt) {
  int t = lua_getfield(L, opts, name), v = dflt;
  if (t == LUA_TBOOLEAN)
    v = lua_toboolean(L, -1);
  else if (t != LUA_TNIL)
    luaL_error(L, "tls.context: option '%s' must be a boolean", name);
  lua_pop(L, 1);
  return v;
}

static int optversion(lua_State *L, int opts, const char *name, int dflt) {
  static const char *const names[] = {"tls1.2", "tls1.3", NULL};
  static const int values[] = {TLS1_2_VERSION, TLS1_3_VERSION};
  const char *s = optstring(L, opts, name, NULL);
  int i, v = dflt;
  if (s != NULL) {
    for (i = 0; names[i] != NULL && strcmp(names[i], s) != 0; i++) {}
    if (names[i] == NULL)
      luaL_error(L, "tls.context: option '%s' must be \"tls1.2\" or "
                    "\"tls1.3\" (got \"%s\")", name, s);
    v = values[i];
  }
  lua_pop(L, 1);
  return v;
}

/* The most bytes an ALPN list may take on the wire. RFC 7301 allows
   65535, but the whole ClientHello's extensions share that bound: a list
   near it failed every handshake with "internal error". */
#define TLS_ALPN_MAX 32768

/* Builds the ALPN wire format (length-prefixed names) from the list at
   idx, pushed as a string. Raises on a bad list: it is a programmer's. */
void lsk_tls_pushalpn(lua_State *L, int idx, const char *fn) {
  luaL_Buffer b;
  lua_Integer i, n;
  if (!lua_istable(L, idx))
    luaL_error(L, "%s: option 'alpn' must be a list of strings", fn);
  n = luaL_len(L, idx);
  if (n < 1) luaL_error(L, "%s: option 'alpn' is empty", fn);
  luaL_buffinit(L, &b);
  for (i = 1; i <= n; i++) {
    char name[255];  /* copied: the list's __index may make the string,
                        which the buffer's growth could then collect */
    size_t len;
    if (lua_geti(L, idx, i) != LUA_TSTRING)
      luaL_error(L, "%s: option 'alpn' must be a list of strings", fn);
    len = lua_rawlen(L, -1);
    if (len < 1 || len > sizeof name)
      luaL_error(L, "%s: an ALPN protocol name is 1 to 255 bytes", fn);
    memcpy(name, lua_tostring(L, -1), len);
    lua_pop(L, 1);
    if (luaL_bufflen(&b) + 1 + len > TLS_ALPN_MAX)
      luaL_error(L, "%s: option 'alpn' is too long (at most %d bytes in "
                    "all, a byte more per name)", fn, TLS_ALPN_MAX);
    luaL_addchar(&b, (char)len);
    luaL_addlstring(&b, name, len);
  }
  luaL_pushresult(&b);
}

/* What the PEM password callback gets: the password option, and whether
   it was asked for (the key is encrypted). */
typedef struct pwarg {
  const char *pw;
  int asked;
} pwarg;

/* pem_password_cb: the password option, never a terminal prompt. */
static int password_cb(char *buf, int size, int rwflag, void *u) {
  pwarg *a = (pwarg *)u;
  size_t len;
  (void)rwflag;
  if (a == NULL) return 0;
  a->asked = 1;
  if (a->pw == NULL || size <= 0) return 0;
  len = strlen(a->pw);
  if (len > (size_t)size) len = (size_t)size;
  memcpy(buf, a->pw, len);
  return (int)len;
}

/* A BIO over PEM text itself when s holds "-----BEGIN", else over the
   file at path s (when paths are allowed). *label is "what" for text,
   "what PATH" for a file (pushed on the stack). */
static BIO *openpem(lua_State *L, const char *s, size_t len, int paths,
                    const char *what, const char **label) {
  const char *mark = "-----BEGIN";
  size_t i, m = strlen(mark);
  *label = what;
  for (i = 0; i + m <= len; i++)
    if (memcmp(s + i, mark, m) == 0)
      return BIO_new_mem_buf(s, len > (size_t)INT_MAX ? INT_MAX : (int)len);
  if (!paths) {
    *label = lua_pushfstring(L, "%s: no PEM text (-----BEGIN ...)", what);
    return NULL;
  }
  if (strlen(s) != len) {
    *label = lua_pushfstring(L, "%s: neither PEM text nor a path (a path "
                                "holds no NUL byte)", what);
    return NULL;
  }
  *label = lua_pushfstring(L, "%s %s", what, s);
  return BIO_new_file(s, "r");
}

/* Whether the last error is only PEM's "no more objects". */
static int pemend(void) {
  unsigned long e = ERR_peek_last_error();
  if (ERR_GET_LIB(e) == ERR_LIB_PEM
      && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    return 1;
  }
  return 0;
}

/* Every certificate in the PEM at s into the store (and, for a server
   verifying clients, the list of CA names it sends). 0, or pushes the
   failure. */
static int loadca(lua_State *L, SSL_CTX *ctx, const char *s, size_t len,
                  int server) {
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  const char *label;
  BIO *bio = openpem(L, s, len, 0, "ca", &label);
  X509 *x;
  int n = 0;
  if (bio == NULL) return lsk_tls_pushssl(L, label, TLS_E_CONFIG);
  while ((x = PEM_read_bio_X509(bio, NULL, password_cb, NULL)) != NULL) {
    int ok = X509_STORE_add_cert(store, x);
    if (ok && server) ok = SSL_CTX_add_client_CA(ctx, x);
    X509_free(x);
    if (!ok) {
      BIO_free(bio);
      return lsk_tls_pushssl(L, "ca", TLS_E_CONFIG);
    }
    n++;
  }
  BIO_free(bio);
  if (n == 0 || !pemend())
    return lsk_tls_pushssl(L, "ca: no certificate could be read",
                           TLS_E_CONFIG);
  return 0;
}

/* The certificate chain (leaf first) from a path or PEM text. */
static int loadcert(lua_State *L, SSL_CTX *ctx, const char *s, size_t len) {
  const char *label;
  BIO *bio = openpem(L, s, len, 1, "cert", &label);
  X509 *x;
  if (bio == NULL) return lsk_tls_pushssl(L, label, TLS_E_CONFIG);
  x = PEM_read_bio_X509_AUX(bio, NULL, password_cb, NULL);
  if (x == NULL || !SSL_CTX_use_certificate(ctx, x)) {
    X509_free(x);
    BIO_free(bio);
    return lsk_tls_pushssl(L, lua_pushfstring(L, "%s: no certificate could "
                                              "be read", label),
                           TLS_E_CONFIG);
  }
  X509_free(x);
  SSL_CTX_clear_chain_certs(ctx);
  while ((x = PEM_read_bio_X509(bio, NULL, password_cb, NULL)) != NULL) {
    if (!SSL_CTX_add0_chain_cert(ctx, x)) {
      X509_free(x);
      BIO_free(bio);
      return lsk_tls_pushssl(L, lua_pushfstring(L, "%s: bad chain", label),
                             TLS_E_CONFIG);
    }
  }
  BIO_free(bio);
  if (!pemend()) return lsk_tls_pushssl(L, label, TLS_E_CONFIG);
  return 0;
}

/* The private key from a path or PEM text (incert: the key option was
   not given, and the key is looked for with the certificate). A file
   without a key, an encrypted key without a password and a wrong
   password each say so: the password callback tells which. */
static int loadkey(lua_State *L, SSL_CTX *ctx, const char *s, size_t len,
                   const char *pw, int incert) {
  const char *label;
  BIO *bio = openpem(L, s, len, 1, "key", &label);
  pwarg pa;
  EVP_PKEY *k;
  int ok;
  if (bio == NULL) return lsk_tls_pushssl(L, label, TLS_E_CONFIG);
  pa.pw = pw;
  pa.asked = 0;
  k = PEM_read_bio_PrivateKey(bio, NULL, password_cb, &pa);
  BIO_free(bio);
  if (k == NULL && !pa.asked) {
    ERR_clear_error();
    return lsk_tls_pushfail(L, lua_pushfstring(L, "%s: no private key found"
                                               "%s", label, incert
                                               ? " (no key option: looked "
                                                 "for it with the cert)"
                                               : ""), TLS_E_CONFIG);
  }
  if (k == NULL)
    return lsk_tls_pushssl(L, lua_pushfstring(L, "%s: %s", label,
                                              pw != NULL ? "wrong password"
                                              : "the key is encrypted and no "
                                                "password was given"),
                           TLS_E_CONFIG);
  ok = SSL_CTX_use_PrivateKey(ctx, k);
  EVP_PKEY_free(k);
  if (!ok) return lsk_tls_pushssl(L, "key", TLS_E_CONFIG);
  if (!SSL_CTX_check_private_key(ctx))
    return lsk_tls_pushssl(L, "key does not match the certificate",
                           TLS_E_CONFIG);
  return 0;
}

/* The server's ALPN choice: the first protocol of its own list (its
   preference) that the client offers. Nothing in common is a fatal
   no_application_protocol alert (RFC 7301). */
static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
  lsk_tlsctx *c = (lsk_tlsctx *)SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  unsigned char *o;
  (void)arg;
  if (c == NULL || c->alpn == NULL) return SSL_TLSEXT_ERR_NOACK;
  if (SSL_select_next_proto(&o, outlen, c->alpn, (unsigned)c->alpnlen, in,
                            inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = o;
  return SSL_TLSEXT_ERR_OK;
}

/* Loads the verification store: the options given, else the system's. */
static int loadstore(lua_State *L, lsk_tlsctx *c, int opts) {
  size_t calen;
  const char *cafile = optpath(L, opts, "cafile");
  const char *capath = optpath(L, opts, "capath");
  const char *ca = optstring(L, opts, "ca", &calen);
  if (cafile != NULL) {
    if (!SSL_CTX_load_verify_file(c->ctx, cafile))
      return lsk_tls_pushssl(L, lua_pushfstring(L, "cafile %s", cafile),
                             TLS_E_CONFIG);
    if (c->server) {
      STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cafile);
      if (names != NULL) SSL_CTX_set_client_CA_list(c->ctx, names);
    }
  }
  if (capath != NULL && access(capath, R_OK | X_OK) != 0)
    return lsk_tls_pushfail(L, lua_pushfstring(L, "capath %s: not a readable"
                                               " directory", capath),
                            TLS_E_CONFIG);
  if (capath != NULL && !SSL_CTX_load_verify_dir(c->ctx, capath))
    return lsk_tls_pushssl(L, lua_pushfstring(L, "capath %s", capath),
                           TLS_E_CONFIG);
  if (ca != NULL && loadca(L, c->ctx, ca, calen, c->server) != 0) return 3;
  if (cafile == NULL && capath == NULL && ca == NULL && c->verify) {
    const char *def = getenv(X509_get_default_cert_file_env());
    if (def == NULL) def = X509_get_default_cert_file();
    SSL_CTX_set_default_verify_paths(c->ctx);
    if (access(def, R_OK) != 0 && access(TLS_SYSTEM_BUNDLE, R_OK) == 0)
      SSL_CTX_load_verify_file(c->ctx, TLS_SYSTEM_BUNDLE);
  }
  ERR_clear_error();
  return 0;
}

static int loadidentity(lua_State *L, lsk_tlsctx *c, int opts) {
  size_t certlen, keylen;
  const char *cert = optstring(L, opts, "cert", &certlen);
  const char *key = optstring(L, opts, "key", &keylen);
  const char *pw = optstring(L, opts, "password", NULL);
  if (cert == NULL && key != NULL)
    return lsk_tls_pushfail(L, "key given without cert", TLS_E_CONFIG);
  if (cert == NULL) {
    if (c->server)
      return lsk_tls_pushfail(L, "a server context needs cert and key",
                              TLS_E_CONFIG);
    return 0;
  }
  if (loadcert(L, c->ctx, cert, certlen) != 0) return 3;
  if (key == NULL)  /* the key is in the cert's file (or text) */
    return loadkey(L, c->ctx, cert, certlen, pw, 1);
  return loadkey(L, c->ctx, key, keylen, pw, 0);
}

/* The context at ud, made from the options at opts: 0, or the failure
   pushed (3). The cipher strings are kept as user values 3 and 4: a
   context chosen by SNI sets them on the connection (lsk_tls_hello). */
static int setup(lua_State *L, lsk_tlsctx *c, int ud, int opts) {
  const char *s;
  int minv = optversion(L, opts, "min_version", TLS1_2_VERSION);
  int maxv = optversion(L, opts, "max_version", 0);
  if (maxv != 0 && maxv < minv)
    return lsk_tls_pushfail(L, "max_version is below min_version",
                            TLS_E_CONFIG);
  SSL_CTX_set_min_proto_version(c->ctx, minv);
  SSL_CTX_set_max_proto_version(c->ctx, maxv);
  SSL_CTX_set_options(c->ctx, SSL_OP_NO_RENEGOTIATION
                      | (c->server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  /* read whole records (and what follows) per recv(2), not a header and
     then a body: half the syscalls on a bulk read */
  SSL_CTX_set_read_ahead(c->ctx, 1);
  SSL_CTX_set_mode(c->ctx, SSL_MODE_RELEASE_BUFFERS
                   | SSL_MODE_ENABLE_PARTIAL_WRITE
                   | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (c->server) {
    SSL_CTX_set_session_id_context(c->ctx, (const unsigned char *)"lunasock",
                                   8);
    SSL_CTX_set_verify(c->ctx, c->verify ? SSL_VERIFY_PEER
                       | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE,
                       NULL);
  }
  else
    SSL_CTX_set_verify(c->ctx, c->verify ? SSL_VERIFY_PEER
                                         : SSL_VERIFY_NONE, NULL);
  if ((s = optstring(L, opts, "ciphers", NULL)) != NULL) {
    if (!SSL_CTX_set_cipher_list(c->ctx, s))
      return lsk_tls_pushssl(L, "ciphers", TLS_E_CONFIG);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, ud, 3);
  }
  if ((s = optstring(L, opts, "ciphersuites", NULL)) != NULL) {
    if (!SSL_CTX_set_ciphersuites(c->ctx, s))
      return lsk_tls_pushssl(L, "ciphersuites", TLS_E_CONFIG);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, ud, 4);
  }
  if (loadstore(L, c, opts) != 0) return 3;
  if (loadidentity(L, c, opts) != 0) return 3;
  return 0;
}

/* The servername callback: the context was chosen already (by
   lsk_tls_hello); acknowledging the name makes OpenSSL keep it in the
   session, so that info().servername has it after a TLS 1.2 resumption. */
static int sni_ack(SSL *ssl, int *alert, void *arg) {
  (void)ssl; (void)alert; (void)arg;
  return SSL_TLSEXT_ERR_OK;
}

/* Pushes a new context from the options table at opts, or nil, msg,
   "TLS_CONFIG". Raises on unknown option names and wrong types. */
int lsk_tls_newcontext(lua_State *L, int opts) {
  static const char *const modes[] = {"client", "server", NULL};
  lsk_tlsctx *c;
  int server, ud, top;
  const char *mode;
  luaL_checktype(L, opts, LUA_TTABLE);
  lsk_tls_checknames(L, opts, "tls.context", option_names);
  mode = optstring(L, opts, "mode", NULL);
  server = mode != NULL && strcmp(mode, modes[1]) == 0;
  if (mode != NULL && !server && strcmp(mode, modes[0]) != 0)
    luaL_error(L, "tls.context: option 'mode' must be \"client\" or "
                  "\"server\" (got \"%s\")", mode);
  lua_pop(L, 1);
  c = (lsk_tlsctx *)lua_newuserdatauv(L, sizeof *c, 4);
  c->ctx = NULL;
  c->server = server;
  c->alpn = NULL;
  c->alpnlen = 0;
  c->verify = optbool(L, opts, "verify", !server);
  lua_pushvalue(L, TLS_UV_CTXMT);
  lua_setmetatable(L, -2);
  ud = lua_gettop(L);
  /* options that only raise come first, before any OpenSSL object */
  if (lua_getfield(L, opts, "alpn") != LUA_TNIL) {
    lsk_tls_pushalpn(L, lua_gettop(L), "tls.context");
    c->alpn = (const unsigned char *)lua_tolstring(L, -1, &c->alpnlen);
    lua_setiuservalue(L, ud, 1);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, opts, "sni") != LUA_TNIL) {
    if (!server) luaL_error(L, "tls.context: option 'sni' is for servers");
    if (!lua_istable(L, -1) && !lua_isfunction(L, -1))
      luaL_error(L, "tls.context: option 'sni' must be a table or a "
                    "function");
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, ud, 2);
  }
  lua_pop(L, 1);
  ERR_clear_error();
  c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (c->ctx == NULL) return lsk_tls_pushssl(L, "SSL_CTX_new", TLS_E_CONFIG);
  SSL_CTX_set_app_data(c->ctx, c);
  if (c->alpn != NULL) {
    if (server)
      SSL_CTX_set_alpn_select_cb(c->ctx, alpn_select, NULL);
    else if (SSL_CTX_set_alpn_protos(c->ctx, c->alpn,
                                     (unsigned)c->alpnlen) != 0)
      return lsk_tls_pushssl(L, "alpn", TLS_E_CONFIG);
  }
  if (server) {
    SSL_CTX_set_client_hello_cb(c->ctx, lsk_tls_hello, NULL);
    SSL_CTX_set_tlsext_servername_callback(c->ctx, sni_ack);
  }
  top = lua_gettop(L);
  if (setup(L, c, ud, opts) != 0) return 3;
  lua_settop(L, top);
  ERR_clear_error();
  return 1;
}

/* tls.context(opts) -> context, or nil, msg, "TLS_CONFIG" */
static int tls_context(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  return lsk_tls_newcontext(L, 1);
}

static int ctx_gc(lua_State *L) {
  lsk_tlsctx *c = lsk_tls_toctx(L, 1);
  if (c->ctx != NULL) {
    SSL_CTX_set_app_data(c->ctx, NULL);  /* sockets may outlive us */
    SSL_CTX_free(c->ctx);
    c->ctx = NULL;
  }
  return 0;
}

static int ctx_tostring(lua_State *L) {
  lsk_tlsctx *c = lsk_tls_toctx(L, 1);
  lua_pushfstring(L, LSK_TLS_CONTEXT " (%s%s)",
                  c->server ? "server" : "client",
                  c->verify ? ", verify" : "");
  return 1;
}

/* ctx:mode() -> "client" or "server": what the context was made for
   (a server refuses a client context at the door). */
static int ctx_mode(lua_State *L) {
  lsk_tlsctx *c = lsk_tls_toctx(L, 1);
  lua_pushstring(L, c->server ? "server" : "client");
  return 1;
}

const luaL_Reg lsk_tls_context_methods[] = {
  {"mode", ctx_mode},
  {NULL, NULL}
};

const luaL_Reg lsk_tls_context_funcs[] = {
  {"context", tls_context},
  {NULL, NULL}
};

const luaL_Reg lsk_tls_context_meta[] = {
  {"__gc", ctx_gc},
  {"__tostring", ctx_tostring},
  {NULL, NULL}
};
