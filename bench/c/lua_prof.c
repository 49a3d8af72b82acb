/* lua_prof: lua5.4 built from Debian's liblua5.4.a, with its symbols, so
   that callgrind can name the interpreter's functions. */
#include <stdio.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  int i;
  if (argc < 2) { fprintf(stderr, "usage: lua_prof script [args]\n"); return 2; }
  luaL_openlibs(L);
  lua_createtable(L, argc, 1);
  for (i = 0; i < argc; i++) { lua_pushstring(L, argv[i]); lua_rawseti(L, -2, i - 1); }
  lua_setglobal(L, "arg");
  if (luaL_loadfile(L, argv[1]) != LUA_OK) goto fail;
  for (i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
  if (lua_pcall(L, argc - 2, 0, 0) != LUA_OK) goto fail;
  lua_close(L);
  return 0;
fail:
  fprintf(stderr, "lua_prof: %s\n", lua_tostring(L, -1));
  return 1;
}
