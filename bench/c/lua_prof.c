/* lua_prof: lua5.4 built from Debian's liblua5.4.a, for measuring.
 *
 * Built plain, it is Debian's interpreter with its symbols, so that
 * callgrind names the interpreter's functions (bench/callgrind_http.sh
 * PROF=1, bench/cg_functions.sh).
 *
 * Built with -DMEMHIST (bench/build/lua_memhist, for
 * bench/idle_breakdown.lua), its allocator counts the live blocks of each
 * size, and a script gets one more global, memhist() -> {[size] = live
 * blocks of that size} (blocks of 64 KiB and more are counted under
 * 65536). The interpreter allocates every object with its exact size (a
 * table, 56 bytes; its hash part, 24 bytes a slot; a thread, 208; its
 * stack, 16 bytes a slot; a CallInfo, 64 ...), so the sizes that grow by
 * one a connection say which objects a connection holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#ifdef MEMHIST
#define NAME "lua_memhist"
#define BIG 65536
static long live[BIG + 1];

static void count(size_t size, long d) {
  live[size < BIG ? size : BIG] += d;
}

static void *alloc(void *ud, void *p, size_t osize, size_t nsize) {
  (void)ud;
  if (p != NULL) count(osize, -1);   /* osize is the block's size when p is a block */
  if (nsize == 0) {
    free(p);
    return NULL;
  }
  p = realloc(p, nsize);
  if (p != NULL) count(nsize, 1);
  else if (osize > 0) count(osize, 1);  /* failed: the old block stays */
  return p;
}

static int panic(lua_State *L) {
  fprintf(stderr, NAME ": %s\n", lua_tostring(L, -1));
  return 0;
}

static int memhist(lua_State *L) {
  size_t i;
  lua_newtable(L);
  for (i = 1; i <= BIG; i++) {
    if (live[i] != 0) {
      lua_pushinteger(L, live[i]);
      lua_rawseti(L, -2, (lua_Integer)i);
    }
  }
  return 1;
}

static lua_State *new_state(void) {
  lua_State *L = lua_newstate(alloc, NULL);
  if (L != NULL) lua_atpanic(L, panic);
  return L;
}
#else
#define NAME "lua_prof"
static lua_State *new_state(void) {
  return luaL_newstate();
}
#endif

int main(int argc, char **argv) {
  lua_State *L = new_state();
  int i;
  if (L == NULL || argc < 2) {
    fprintf(stderr, "usage: " NAME " script [args]\n");
    return 2;
  }
  luaL_openlibs(L);
#ifdef MEMHIST
  lua_register(L, "memhist", memhist);
#endif
  lua_createtable(L, argc, 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "arg");
  if (luaL_loadfile(L, argv[1]) != LUA_OK) goto fail;
  for (i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
  if (lua_pcall(L, argc - 2, 0, 0) != LUA_OK) goto fail;
  lua_close(L);
  return 0;
fail:
  fprintf(stderr, NAME ": %s\n", lua_tostring(L, -1));
  return 1;
}
