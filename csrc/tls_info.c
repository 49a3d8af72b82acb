/* lunasock.tls: what a connection negotiated (info) and sessions for
   resumption. See LICENSE. */
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* name in RFC 2253 form ("CN=localhost,O=Example"), pushed */
static void pushname(lua_State *L, X509_NAME *name) {
  BIO *b = BIO_new(BIO_s_mem());
  char *p;
  long n;
  if (b == NULL || X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0) {
    BIO_free(b);
    lua_pushliteral(L, "");
    return;
  }
  n = BIO_get_mem_data(b, &p);
  lua_pushlstring(L, p, n > 0 ? (size_t)n : 0);
  BIO_free(b);
}

/* seconds since the epoch, or nil */
static void pushtime(lua_State *L, const ASN1_TIME *t) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
    lua_pushnil(L);
  else
    lua_pushinteger(L, (lua_Integer)timegm(&tm));
}

/* The subjectAltName entries: DNS names, IP addresses (as text), e-mail
   addresses and URIs, in certificate order. */
static void pushsan(lua_State *L, X509 *x) {
  GENERAL_NAMES *names = (GENERAL_NAMES *)X509_get_ext_d2i(
      x, NID_subject_alt_name, NULL, NULL);
  int i, n = 0;
  lua_newtable(L);
  for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
    const ASN1_STRING *s = NULL;
    char ip[INET6_ADDRSTRLEN];
    if (g->type == GEN_DNS) s = g->d.dNSName;
    else if (g->type == GEN_EMAIL) s = g->d.rfc822Name;
    else if (g->type == GEN_URI) s = g->d.uniformResourceIdentifier;
    else if (g->type == GEN_IPADD) {
      int len = ASN1_STRING_length(g->d.iPAddress);
      const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
      if ((len == 4 && inet_ntop(AF_INET, a, ip, sizeof ip))
          || (len == 16 && inet_ntop(AF_INET6, a, ip, sizeof ip))) {
        lua_pushstring(L, ip);
        lua_rawseti(L, -2, ++n);
      }
      continue;
    }
    if (s != NULL) {
      lua_pushlstring(L, (const char *)ASN1_STRING_get0_data(s),
                      (size_t)ASN1_STRING_length(s));
      lua_rawseti(L, -2, ++n);
    }
  }
  GENERAL_NAMES_free(names);
}

static void pushpeer(lua_State *L, X509 *x) {
  unsigned char md[EVP_MAX_MD_SIZE];
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  unsigned int i, n = 0;
  lua_createtable(L, 0, 6);
  pushname(L, X509_get_subject_name(x));
  lua_setfield(L, -2, "subject");
  pushname(L, X509_get_issuer_name(x));
  lua_setfield(L, -2, "issuer");
  pushsan(L, x);
  lua_setfield(L, -2, "san");
  pushtime(L, X509_get0_notBefore(x));
  lua_setfield(L, -2, "not_before");
  pushtime(L, X509_get0_notAfter(x));
  lua_setfield(L, -2, "not_after");
  if (X509_digest(x, EVP_sha256(), md, &n)) {
    for (i = 0; i < n; i++)
      snprintf(hex + 2 * i, 3, "%02x", md[i]);
    lua_pushlstring(L, hex, 2 * (size_t)n);
    lua_setfield(L, -2, "sha256");
  }
}

/* info() -> {version, cipher, alpn, servername, verified, session_reused,
   peer = {subject, issuer, san, not_before, not_after, sha256}} */
static int tls_info(lua_State *L) {
  lsk_tls *t = lsk_tls_checkopen(L, 1);
  SSL *ssl = t->ssl;
  const unsigned char *alpn = NULL;
  unsigned int alen = 0;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  X509 *peer = SSL_get1_peer_certificate(ssl);
  lua_createtable(L, 0, 7);
  lua_pushstring(L, SSL_get_version(ssl));
  lua_setfield(L, -2, "version");
  lua_pushstring(L, SSL_get_cipher_name(ssl));
  lua_setfield(L, -2, "cipher");
  SSL_get0_alpn_selected(ssl, &alpn, &alen);
  if (alen > 0) {
    lua_pushlstring(L, (const char *)alpn, alen);
    lua_setfield(L, -2, "alpn");
  }
  if (name != NULL) {
    lua_pushstring(L, name);
    lua_setfield(L, -2, "servername");
  }
  lua_pushboolean(L, peer != NULL && SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE
                     && SSL_get_verify_result(ssl) == X509_V_OK);
  lua_setfield(L, -2, "verified");
  lua_pushboolean(L, SSL_session_reused(ssl));
  lua_setfield(L, -2, "session_reused");
  if (peer != NULL) {
    pushpeer(L, peer);
    lua_setfield(L, -2, "peer");
    X509_free(peer);
  }
  ERR_clear_error();
  return 1;
}

SSL_SESSION *lsk_tls_tosession(lua_State *L, int idx) {
  lsk_tlssess *s = (lsk_tlssess *)lua_touserdata(L, idx);
  int same = 0;
  if (s != NULL && lua_getmetatable(L, idx)) {
    same = lua_rawequal(L, -1, TLS_UV_SESSMT);
    lua_pop(L, 1);
  }
  return same ? s->sess : NULL;
}

/* session([format]) -> a session to resume with (wrap's opts.session), or
   nil when there is none yet. format "der" gives it as a string, to keep
   outside the process. With TLS 1.3 the server sends its tickets after
   the handshake: pending ones are read first, without waiting. */
static int tls_session(lua_State *L) {
  static const char *const formats[] = {"userdata", "der", NULL};
  lsk_tls *t = lsk_tls_checkopen(L, 1);
  int der = luaL_checkoption(L, 2, "userdata", formats);
  SSL_SESSION *sess;
  lsk_tlssess *u = NULL;
  if (!der) {  /* made first: nothing may raise while sess is held */
    u = (lsk_tlssess *)lua_newuserdatauv(L, sizeof *u, 0);
    u->sess = NULL;
    lua_pushvalue(L, TLS_UV_SESSMT);
    lua_setmetatable(L, -2);
  }
  if (!t->server) lsk_tls_pump(L, t);
  sess = SSL_get1_session(t->ssl);
  if (sess == NULL || !SSL_SESSION_is_resumable(sess)) {
    SSL_SESSION_free(sess);
    luaL_pushfail(L);
    return 1;
  }
  if (der) {
    int len = i2d_SSL_SESSION(sess, NULL);
    unsigned char *p;
    luaL_Buffer b;
    if (len <= 0) {
      SSL_SESSION_free(sess);
      luaL_pushfail(L);
      return 1;
    }
    /* the buffer may raise: the session is freed first, then encoded
       from the SSL's reference, which the socket holds */
    SSL_SESSION_free(sess);
    sess = SSL_get_session(t->ssl);
    p = (unsigned char *)luaL_buffinitsize(L, &b, (size_t)len);
    len = i2d_SSL_SESSION(sess, &p);
    luaL_pushresultsize(&b, len > 0 ? (size_t)len : 0);
    ERR_clear_error();
    return 1;
  }
  u->sess = sess;
  ERR_clear_error();
  return 1;
}

static int sess_gc(lua_State *L) {
  lsk_tlssess *s = (lsk_tlssess *)luaL_checkudata(L, 1, LSK_TLS_SESSION);
  SSL_SESSION_free(s->sess);
  s->sess = NULL;
  return 0;
}

static int sess_tostring(lua_State *L) {
  lsk_tlssess *s = (lsk_tlssess *)luaL_checkudata(L, 1, LSK_TLS_SESSION);
  lua_pushfstring(L, LSK_TLS_SESSION " (%s)", s->sess == NULL ? "freed"
                  : SSL_SESSION_get_protocol_version(s->sess) == TLS1_3_VERSION
                  ? "TLSv1.3" : "TLSv1.2");
  return 1;
}

const luaL_Reg lsk_tls_info_methods[] = {
  {"info", tls_info},
  {"session", tls_session},
  {NULL, NULL}
};

const luaL_Reg lsk_tls_session_meta[] = {
  {"__gc", sess_gc},
  {"__tostring", sess_tostring},
  {NULL, NULL}
};
