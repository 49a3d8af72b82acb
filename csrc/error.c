/* lunasock.core: errno and resolver errors as nil, message, "ENAME".
   See LICENSE. */
#include <errno.h>
#include <netdb.h>

#include "lunasock.h"

/* Names that share a value with another: the one listed here is used. */
static const char *preferred(int err) {
  switch (err) {
#if defined(EAGAIN)
    case EAGAIN: return "EAGAIN";
#endif
#if defined(EDEADLK)
    case EDEADLK: return "EDEADLK";
#endif
#if defined(EOPNOTSUPP)
    case EOPNOTSUPP: return "EOPNOTSUPP";
#endif
    default: return NULL;
  }
}

const char *lsk_errname(int err) {
  const lsk_const *c;
  const char *name = preferred(err);
  if (name != NULL) return name;
  for (c = lsk_errnos; c->name != NULL; c++)
    if (c->value == err) return c->name;
  return NULL;
}

int lsk_pusherror(lua_State *L, int err, const char *context) {
  char buf[128];
  const char *msg = lsk_strerror(err, buf, sizeof buf);
  const char *name = lsk_errname(err);
  luaL_pushfail(L);
  if (context != NULL)
    lua_pushfstring(L, "%s: %s", context, msg);
  else
    lua_pushstring(L, msg);
  if (name != NULL)
    lua_pushstring(L, name);
  else
    lua_pushfstring(L, "E%d", err);
  return 3;
}

int lsk_pushfailure(lua_State *L, const char *msg, const char *name) {
  luaL_pushfail(L);
  lua_pushstring(L, msg);
  lua_pushstring(L, name);
  return 3;
}

/* The EAI_ names: resolver codes are not errnos. */
static const lsk_const gai_names[] = {
#define G(x) {#x, x}
#if defined(EAI_ADDRFAMILY)
  G(EAI_ADDRFAMILY),
#endif
  G(EAI_AGAIN), G(EAI_BADFLAGS), G(EAI_FAIL), G(EAI_FAMILY), G(EAI_MEMORY),
#if defined(EAI_NODATA)
  G(EAI_NODATA),
#endif
  G(EAI_NONAME), G(EAI_SERVICE), G(EAI_SOCKTYPE),
#if defined(EAI_OVERFLOW)
  G(EAI_OVERFLOW),
#endif
#if defined(EAI_INPROGRESS)
  G(EAI_INPROGRESS), G(EAI_CANCELED), G(EAI_NOTCANCELED), G(EAI_ALLDONE),
  G(EAI_INTR), G(EAI_IDN_ENCODE),
#endif
#undef G
  {NULL, 0}
};

int lsk_pushgaierror(lua_State *L, int gaierr, int err) {
  const lsk_const *c;
  if (gaierr == EAI_SYSTEM) return lsk_pusherror(L, err, NULL);
  luaL_pushfail(L);
  lua_pushstring(L, gai_strerror(gaierr));
  for (c = gai_names; c->name != NULL; c++)
    if (c->value == gaierr) {
      lua_pushstring(L, c->name);
      return 3;
    }
  lua_pushfstring(L, "EAI_%d", gaierr);
  return 3;
}
