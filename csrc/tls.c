/* lunasock.tls: the module table and error reporting. See LICENSE. */
#include <errno.h>

#include <openssl/err.h>
#include <openssl/opensslv.h>

#include "tls.h"

/* Registers l into the table at the top, every function with the
   module's shared upvalues (tls.h), kept at stack slots 1..6 while
   luaopen_lunasock_tls runs. */
void lsk_tls_setfuncs(lua_State *L, const luaL_Reg *l) {
  int i;
  for (i = 1; i <= TLS_NUPVALUES; i++)
    lua_pushvalue(L, i);
  luaL_setfuncs(L, l, TLS_NUPVALUES);
}

/* nil, strerror(err), errno name (lunasock.core's names, read back from
   its constants when the module loads). */
int lsk_tls_pusherrno(lua_State *L, int err) {
  char buf[128];
  luaL_pushfail(L);
  lua_pushstring(L, lsk_strerror(err, buf, sizeof buf));
  lua_getfield(L, TLS_UV_CORE, "errnames");
  if (lua_rawgeti(L, -1, err) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushfstring(L, "E%d", err);
  }
  lua_remove(L, -2);
  return 3;
}

int lsk_tls_pushfail(lua_State *L, const char *msg, const char *code) {
  luaL_pushfail(L);
  lua_pushstring(L, msg);
  lua_pushstring(L, code);
  return 3;
}

int lsk_tls_pushssl(lua_State *L, const char *what, const char *code) {
  const char *reason = NULL;
  unsigned long e;
  while (reason == NULL && (e = ERR_get_error()) != 0)
    reason = ERR_reason_error_string(e);
  ERR_clear_error();
  luaL_pushfail(L);
  if (reason != NULL)
    lua_pushfstring(L, "%s: %s", what, reason);
  else
    lua_pushstring(L, what);
  lua_pushstring(L, code);
  return 3;
}

lsk_tlsctx *lsk_tls_toctx(lua_State *L, int idx) {
  void *p = lua_touserdata(L, idx);
  if (p != NULL && lua_getmetatable(L, idx)) {
    int same = lua_rawequal(L, -1, TLS_UV_CTXMT);
    lua_pop(L, 1);
    if (same) return (lsk_tlsctx *)p;
  }
  luaL_typeerror(L, idx, LSK_TLS_CONTEXT);
  return NULL;
}

/* Builds the table of what lunasock.tls uses from lunasock.core (the
   core module table is at core): socket methods close and shutdown, the
   names getsockname ... of the methods a TLS socket forwards, iscosocket,
   and errnames, errno value -> name. */
static void coreuses(lua_State *L, int core, int coremt) {
  static const char *const methods[] = {
    "close", "shutdown", "getsockname", "getpeername", "setopt", "getopt",
    "family", "socktype", NULL
  };
  static const char *const preferred[] = {"EAGAIN", "EDEADLK", "EOPNOTSUPP",
                                          NULL};
  int i, uses;
  lua_newtable(L);
  uses = lua_gettop(L);
  lua_getfield(L, coremt, "__index");
  for (i = 0; methods[i] != NULL; i++) {
    lua_getfield(L, -1, methods[i]);
    luaL_checktype(L, -1, LUA_TFUNCTION);
    lua_setfield(L, uses, methods[i]);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, core, "iscosocket") != LUA_TFUNCTION)
    luaL_error(L, "lunasock.tls: lunasock.core has no iscosocket "
                  "(mismatched builds)");
  lua_setfield(L, uses, "iscosocket");
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, core) != 0) {  /* errnames: every E* constant */
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                   : NULL;
    if (k != NULL && k[0] == 'E' && k[1] >= 'A' && k[1] <= 'Z'
        && lua_isinteger(L, -1)) {
      lua_pushvalue(L, -1);
      if (lua_rawget(L, -4) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushvalue(L, -2);
        lua_rawset(L, -4);  /* errnames[value] = name */
        continue;
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  for (i = 0; preferred[i] != NULL; i++) {
    if (lua_getfield(L, core, preferred[i]) == LUA_TNUMBER) {
      lua_pushstring(L, preferred[i]);
      lua_rawset(L, -3);
    }
    else
      lua_pop(L, 1);
  }
  lua_setfield(L, uses, "errnames");
}

#define TLS_BIO_KEY "lunasock.tls.biomethod"

static int bio_gc(lua_State *L) {
  BIO_METHOD **m = (BIO_METHOD **)lua_touserdata(L, 1);
  BIO_meth_free(*m);
  *m = NULL;
  return 0;
}

/* tls.type(x) -> "tls socket", "closed tls socket", "tls context",
   "tls session" or nil */
static int tls_type(lua_State *L) {
  lsk_tls *t = (lsk_tls *)luaL_testudata(L, 1, LSK_TLS_SOCKET);
  luaL_checkany(L, 1);
  if (t == NULL) {
    if (luaL_testudata(L, 1, LSK_TLS_CONTEXT) != NULL)
      lua_pushliteral(L, "tls context");
    else if (luaL_testudata(L, 1, LSK_TLS_SESSION) != NULL)
      lua_pushliteral(L, "tls session");
    else
      luaL_pushfail(L);
  }
  else if (t->ssl == NULL || t->sock == NULL || t->sock->fd < 0)
    lua_pushliteral(L, "closed tls socket");
  else
    lua_pushliteral(L, "tls socket");
  return 1;
}

static const luaL_Reg tls_funcs[] = {
  {"type", tls_type},
  {NULL, NULL}
};

/* Fills metatable mt with meta and, as __index, the method lists. */
static void fillclass(lua_State *L, int mt, const luaL_Reg *meta,
                      const luaL_Reg *m1, const luaL_Reg *m2) {
  lua_pushvalue(L, mt);
  lsk_tls_setfuncs(L, meta);
  if (m1 != NULL) {
    lua_newtable(L);
    lsk_tls_setfuncs(L, m1);
    if (m2 != NULL) lsk_tls_setfuncs(L, m2);
    lua_setfield(L, -2, "__index");
  }
  lua_pushliteral(L, "the metatable is locked");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}

LUNASOCK_API int luaopen_lunasock_tls(lua_State *L) {
  BIO_METHOD **bio;  /* one per state: see below */
  if (OPENSSL_init_ssl(0, NULL) != 1)
    return luaL_error(L, "lunasock.tls: OpenSSL failed to initialise");
  ERR_clear_error();
  lua_settop(L, 0);
  luaL_newmetatable(L, LSK_TLS_SOCKET);   /* 1: TLS_UV_SOCKMT */
  luaL_newmetatable(L, LSK_TLS_CONTEXT);  /* 2: TLS_UV_CTXMT */
  luaL_newmetatable(L, LSK_TLS_SESSION);  /* 3: TLS_UV_SESSMT */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "lunasock.core");
  lua_call(L, 1, 1);                      /* 4: the core module */
  if (luaL_getmetatable(L, LSK_SOCKET) != LUA_TTABLE)  /* 5 */
    return luaL_error(L, "lunasock.tls: lunasock.core did not load");
  coreuses(L, 4, 5);                      /* 6 */
  lua_remove(L, 4);     /* 4: TLS_UV_COREMT, 5: TLS_UV_CORE */
  /* 6: the BIO_METHOD, one per Lua state, kept in the registry: loading
     the module again (busted's insulation clears package.loaded) must
     not free it under the sockets made before, which the registry's
     reference outlives until lua_close finalizes them first */
  if (lua_getfield(L, LUA_REGISTRYINDEX, TLS_BIO_KEY) != LUA_TUSERDATA) {
    lua_pop(L, 1);
    bio = (BIO_METHOD **)lua_newuserdatauv(L, sizeof *bio, 0);
    *bio = NULL;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, bio_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if ((*bio = lsk_tls_biomethod()) == NULL)
      return luaL_error(L, "lunasock.tls: BIO_meth_new failed");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, TLS_BIO_KEY);
  }
  fillclass(L, 1, lsk_tls_socket_meta, lsk_tls_socket_methods,
            lsk_tls_info_methods);
  fillclass(L, 2, lsk_tls_context_meta, lsk_tls_context_methods, NULL);
  fillclass(L, 3, lsk_tls_session_meta, NULL, NULL);
  lua_newtable(L);
  lsk_tls_setfuncs(L, tls_funcs);
  lsk_tls_setfuncs(L, lsk_tls_context_funcs);
  lsk_tls_setfuncs(L, lsk_tls_wrap_funcs);
  lua_pushstring(L, OpenSSL_version(OPENSSL_VERSION));
  lua_setfield(L, -2, "OPENSSL_VERSION");
  lua_pushinteger(L, (lua_Integer)OpenSSL_version_num());
  lua_setfield(L, -2, "OPENSSL_VERSION_NUMBER");
  return 1;
}
