/* lunasock.tls: TLS sockets on OpenSSL 3. See LICENSE. */
#ifndef LUNASOCK_TLS_H
#define LUNASOCK_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "lunasock.h"

LUNASOCK_API int luaopen_lunasock_tls(lua_State *L);

#define LSK_TLS_SOCKET "lunasock.tls.socket"
#define LSK_TLS_CONTEXT "lunasock.tls.context"
#define LSK_TLS_SESSION "lunasock.tls.session"

/* Every C function of lunasock.tls shares these upvalues (tls.c): the
   three metatables of the module, the core socket metatable (the TLS
   module reads lunasock.core's socket struct, lunasock.h, for the
   descriptor and the timeout), a table of what it uses from
   lunasock.core (close, shutdown, iscosocket, errno names), and the
   BIO_METHOD of this Lua state (a userdata that frees it when the state
   closes, after every socket that used it). */
#define TLS_UV_SOCKMT lua_upvalueindex(1)
#define TLS_UV_CTXMT lua_upvalueindex(2)
#define TLS_UV_SESSMT lua_upvalueindex(3)
#define TLS_UV_COREMT lua_upvalueindex(4)
#define TLS_UV_CORE lua_upvalueindex(5)
#define TLS_UV_BIO lua_upvalueindex(6)
#define TLS_NUPVALUES 6

/* Error codes beyond the errno names. */
#define TLS_E_VERIFY "TLS_VERIFY"
#define TLS_E_HOSTNAME "TLS_HOSTNAME"
#define TLS_E_ALPN "TLS_ALPN"
#define TLS_E_HANDSHAKE "TLS_HANDSHAKE"
#define TLS_E_TRUNCATED "TLS_TRUNCATED"
#define TLS_E_PROTOCOL "TLS_PROTOCOL"
#define TLS_E_CONFIG "TLS_CONFIG"

/* A context: an SSL_CTX and what its callbacks need. User values: 1 the
   server's ALPN list in wire format (a string), 2 the sni table or
   function, 3 and 4 the ciphers and ciphersuites options (strings). */
typedef struct lsk_tlsctx {
  SSL_CTX *ctx;              /* NULL once collected */
  int server;
  int verify;
  const unsigned char *alpn; /* into user value 1, or NULL */
  size_t alpnlen;
} lsk_tlsctx;

/* A session for resumption (tls_info.c). */
typedef struct lsk_tlssess {
  SSL_SESSION *sess;
} lsk_tlssess;

/* A TLS socket. User values: 1 the core socket, 2 the context it was
   made with, 3 the context SNI switched to (server). Closed means
   ssl == NULL. */
typedef struct lsk_tls {
  SSL *ssl;
  lsk_socket *sock;   /* user value 1's struct; its fd is the transport */
  int server;
  int handshaken;     /* the handshake finished */
  int closing;        /* close_notify queued: no more sends */
  int rdshut;         /* shutdown("r"): recv returns "" */
  int err;            /* errno of the last failed transfer in the BIO */
  const char *fatal;  /* after a fatal error: its code, returned again */
  int fatalerr;       /* ... or its errno */
  char fatalmsg[256];
  char *out;          /* ciphertext the socket did not take yet */
  size_t outpos, outlen, outcap;
  lua_State *L;       /* during a handshake step: for the SNI callback */
  int selfidx;        /* ... and where this userdata is on L's stack */
  int cbfailed;       /* the SNI callback failed: its error in fatalmsg */
  int adopted;        /* SNI chose another context (lsk_tls_hello) */
} lsk_tls;

/* tls.c */
void lsk_tls_setfuncs(lua_State *L, const luaL_Reg *l);
int lsk_tls_pusherrno(lua_State *L, int err);
int lsk_tls_pushfail(lua_State *L, const char *msg, const char *code);
/* The first error on OpenSSL's queue (if any) as "what: reason", pushed
   as nil, msg, code; the queue is emptied. */
int lsk_tls_pushssl(lua_State *L, const char *what, const char *code);
lsk_tlsctx *lsk_tls_toctx(lua_State *L, int idx);

/* tls_context.c */
void lsk_tls_checknames(lua_State *L, int opts, const char *fn,
                        const char *const *names);
int lsk_tls_newcontext(lua_State *L, int opts);  /* pushes ctx or fail */
/* Pushes the ALPN list at idx in wire format; raises on a bad list. */
void lsk_tls_pushalpn(lua_State *L, int idx, const char *fn);
extern const luaL_Reg lsk_tls_context_funcs[];
extern const luaL_Reg lsk_tls_context_methods[];
extern const luaL_Reg lsk_tls_context_meta[];

/* tls_io.c: the transport, errors and waiting. An attempt makes one try
   at an operation: it pushes its results and returns their count, or
   returns LSK_WANT_READ / LSK_WANT_WRITE; lsk_tls_run repeats it,
   waiting in between (a yield inside a loop task, poll outside), until
   it completes or timeout seconds (< 0: none, 0: no wait) pass, and then
   calls giveup (NULL: push the errno). Stack: 1 the TLS socket, 2..nargs
   the arguments, nargs+1 the deadline. */
typedef struct lsk_tls_op {
  int (*attempt)(lua_State *L, lsk_tls *t);
  int (*giveup)(lua_State *L, lsk_tls *t, int err);
  int nargs;
} lsk_tls_op;
int lsk_tls_run(lua_State *L, const lsk_tls_op *op, lsk_tls *t,
                double timeout);
BIO_METHOD *lsk_tls_biomethod(void);  /* a new one, or NULL */
int lsk_tls_fd(lsk_tls *t);           /* the descriptor, -1 if closed */
/* Sends the ciphertext the socket had not taken: 0 once all is out,
   LSK_WANT_WRITE while the socket is full, or an errno. */
int lsk_tls_flush(lsk_tls *t);
/* After an SSL call returned r <= 0: LSK_WANT_READ or LSK_WANT_WRITE
   when it must wait, 0 at the peer's close_notify, or the failure pushed
   as nil, msg, code (3 is returned) and remembered in t->fatal. */
int lsk_tls_failure(lua_State *L, lsk_tls *t, int r, int handshake);
int lsk_tls_fail(lua_State *L, lsk_tls *t, const char *code,
                 const char *msg);
int lsk_tls_failerrno(lua_State *L, lsk_tls *t, int err);
int lsk_tls_pushfatal(lua_State *L, lsk_tls *t);  /* the failure, again */

/* tls_socket.c */
lsk_tls *lsk_tls_checkopen(lua_State *L, int idx);
/* Frees the TLS state and closes the core socket (the TLS socket is at
   idx), after one try at sending close_notify. */
void lsk_tls_finish(lua_State *L, lsk_tls *t, int idx);
/* Processes what has arrived (TLS 1.3 tickets) without waiting; data
   stays buffered for recv, a failure is kept for the next call. */
void lsk_tls_pump(lua_State *L, lsk_tls *t);
extern const luaL_Reg lsk_tls_socket_methods[];
extern const luaL_Reg lsk_tls_socket_meta[];

/* tls_wrap.c */
int lsk_tls_hello(SSL *ssl, int *alert, void *arg);  /* SNI: ClientHello cb */
extern const luaL_Reg lsk_tls_wrap_funcs[];

/* tls_info.c */
SSL_SESSION *lsk_tls_tosession(lua_State *L, int idx);  /* or NULL */
extern const luaL_Reg lsk_tls_info_methods[];
extern const luaL_Reg lsk_tls_session_meta[];

#endif
