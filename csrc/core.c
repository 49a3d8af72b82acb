/* lunasock.core: the module table. See LICENSE. */
#include "lunasock.h"

static void setconstants(lua_State *L, const lsk_const *c) {
  for (; c->name != NULL; c++) {
    lua_pushinteger(L, c->value);
    lua_setfield(L, -2, c->name);
  }
}

/* Registers l into the table at the top, every function with the
   module's shared upvalues (see lunasock.h), kept at stack slots
   1..LSK_NUPVALUES. */
static void setfuncs(lua_State *L, const luaL_Reg *l) {
  int i;
  for (i = 1; i <= LSK_NUPVALUES; i++)
    lua_pushvalue(L, i);
  luaL_setfuncs(L, l, LSK_NUPVALUES);
}

/* Fills metatable mt with the metamethods in meta and, as __index, a
   table of every method list in methods (NULL-terminated). */
static void fillclass(lua_State *L, int mt, const luaL_Reg *meta,
                      const luaL_Reg *const *methods) {
  lua_pushvalue(L, mt);
  setfuncs(L, meta);
  lua_newtable(L);
  for (; *methods != NULL; methods++)
    setfuncs(L, *methods);
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "the metatable is locked");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}

LUNASOCK_API int luaopen_lunasock_core(lua_State *L) {
  static const luaL_Reg *const socket_methods[] = {
    lsk_socket_methods, lsk_io_methods, lsk_option_methods,
    lsk_sendfile_methods, NULL
  };
  static const luaL_Reg *const poller_methods[] = {
    lsk_poller_methods, NULL
  };
  lua_settop(L, 0);
  luaL_newmetatable(L, LSK_SOCKET);    /* 1: upvalue LSK_UV_SOCKETMT */
  lua_newtable(L);                     /* 2: upvalue LSK_UV_TASKS */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, 2);
  luaL_newmetatable(L, LSK_POLLER);    /* 3: upvalue LSK_UV_POLLERMT */
  fillclass(L, 1, lsk_socket_meta, socket_methods);
  fillclass(L, 3, lsk_poller_meta, poller_methods);
  lua_newtable(L);
  setfuncs(L, lsk_socket_funcs);
  setfuncs(L, lsk_io_funcs);
  setfuncs(L, lsk_addr_funcs);
  setfuncs(L, lsk_poller_funcs);
  setfuncs(L, lsk_process_funcs);
  setfuncs(L, lsk_http_funcs);
  setfuncs(L, lsk_fs_funcs);
  setconstants(L, lsk_constants);
  setconstants(L, lsk_errnos);
  setconstants(L, lsk_signals);
  lua_pushliteral(L, "lunasock 0.1");
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
