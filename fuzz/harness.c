/* lunasock fuzz driver: libFuzzer calling a Lua script. See LICENSE.
 *
 * One binary per harness: FUZZ_SCRIPT names fuzz/<harness>.lua, a chunk
 * that returns function(data). Each input is passed to it as a string.
 * lunasock.core and lunasock.tls are linked in (built with the fuzzer's
 * coverage and sanitizers), and the Lua modules come from lua/.
 *
 * The harness script decides what a failure is. It calls FUZZ_FAIL
 * (error with a message starting "FUZZ FAIL") for a broken invariant; any
 * other error escaping it is a failure too, since every harness catches
 * the errors its target may legitimately raise. Either aborts, so
 * libFuzzer saves the input.
 *
 * Coverage of Lua code: a line hook hashes (chunk, line, previous line)
 * into libFuzzer's extra counters, so inputs reaching new Lua branches are
 * kept just as inputs reaching new C edges are.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#ifndef FUZZ_SCRIPT
#error "compile with -DFUZZ_SCRIPT='\"fuzz/NAME.lua\"'"
#endif

int luaopen_lunasock_core(lua_State *L);
int luaopen_lunasock_tls(lua_State *L);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCOUNTERS (1 << 16)
__attribute__((used, section("__libfuzzer_extra_counters")))
uint8_t lsk_fuzz_lua_counters[NCOUNTERS];

static lua_State *L;
static uintptr_t prev_line;

static void line_hook(lua_State *co, lua_Debug *ar) {
  uintptr_t here;
  if (!lua_getinfo(co, "S", ar)) return;
  here = ((uintptr_t)ar->source >> 3) * 0x9E3779B1u ^
         (uintptr_t)ar->currentline * 0x85EBCA77u;
  lsk_fuzz_lua_counters[(here ^ prev_line) % NCOUNTERS]++;
  prev_line = here >> 1;
}

static int traceback(lua_State *l) {
  const char *msg = lua_tostring(l, 1);
  luaL_traceback(l, l, msg ? msg : "(error object is not a string)", 1);
  return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *root = getenv("LUNASOCK_ROOT");
  (void)argc;
  (void)argv;
  L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "lunasock.core", luaopen_lunasock_core, 0);
  lua_pop(L, 1);
  luaL_requiref(L, "lunasock.tls", luaopen_lunasock_tls, 0);
  lua_pop(L, 1);
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s/fuzz/?.lua",
                  root ? root : ".", root ? root : ".", root ? root : ".");
  lua_setfield(L, -2, "path");
  lua_pushliteral(L, "");
  lua_setfield(L, -2, "cpath");  /* only the linked-in core */
  lua_pop(L, 1);
  lua_pushcfunction(L, traceback);
  if (luaL_loadfile(L, FUZZ_SCRIPT) != LUA_OK ||
      lua_pcall(L, 0, 1, 1) != LUA_OK || !lua_isfunction(L, -1)) {
    fprintf(stderr, "fuzz: cannot load %s: %s\n", FUZZ_SCRIPT,
            lua_tostring(L, -1) ? lua_tostring(L, -1) : "no function");
    exit(2);
  }
  lua_setglobal(L, "FUZZ_TARGET");
  lua_pop(L, 1);
  if (getenv("LUNASOCK_FUZZ_NOHOOK") == NULL)
    lua_sethook(L, line_hook, LUA_MASKLINE, 0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static unsigned runs;
  lua_settop(L, 0);
  lua_pushcfunction(L, traceback);
  lua_getglobal(L, "FUZZ_TARGET");
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 1) != LUA_OK) {
    fprintf(stderr, "\nfuzz: %s failed:\n%s\n", FUZZ_SCRIPT,
            lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    abort();
  }
  lua_settop(L, 0);
  if (++runs % 256 == 0) lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
