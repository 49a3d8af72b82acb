/* lunasock: core.poller, readiness of many descriptors. See LICENSE. */
#include <errno.h>
#include <limits.h>
#include <math.h>

#include "lunasock.h"
#include "poller.h"

/*
 * A poller is level-triggered and speaks poll(2)'s event bits whatever
 * the backend. Each registered descriptor carries a Lua value (its obj),
 * kept in a table in the userdata's user value and keyed by fd: wait
 * looks the ready descriptors up there and hands back the objs, so the
 * hot path creates no strings and, with reused result tables, no tables.
 * The backend (poller_epoll.c, poller_poll.c) sees plain integers only.
 *
 * A descriptor closed while registered keeps its entry until removed (by
 * number) or replaced by an add of a new descriptor with that number.
 * epoll forgets it silently; poll(2) reports it as POLLNVAL at every wait,
 * so that the loop sees it. Remove a descriptor before closing it when a
 * duplicate of it lives on: epoll keeps watching the socket under the old
 * number, which no call can name any more (epoll(7)); wait skips it.
 */

#if defined(__linux__)
#define DEFAULT_BACKEND "epoll"
static const char *const backend_names[] = {"epoll", "poll", NULL};
static const lsk_pollops *const backends[] = {&lsk_epoll_ops, &lsk_poll_ops};
#else
#define DEFAULT_BACKEND "poll"
static const char *const backend_names[] = {"poll", NULL};
static const lsk_pollops *const backends[] = {&lsk_poll_ops};
#endif

#define OBJS 1  /* the user value holding fd -> obj */

/* Pushes the fd -> obj table (only debug.setuservalue could make it
   anything else; that must not crash either). */
static void pushobjs(lua_State *L) {
  if (lua_getiuservalue(L, 1, OBJS) != LUA_TTABLE)
    luaL_error(L, "attempt to use a closed poller");
}

static lsk_poller *topoller(lua_State *L) {
  return (lsk_poller *)lsk_toclass(L, 1, LSK_UV_POLLERMT, LSK_POLLER);
}

static lsk_poller *checkpoller(lua_State *L) {
  lsk_poller *p = topoller(L);
  if (p->ops == NULL) luaL_error(L, "attempt to use a closed poller");
  return p;
}

static int checkfd(lua_State *L, int idx) {
  int fd = lsk_fdarg(L, idx);
  luaL_argcheck(L, fd >= 0, idx, "descriptor must not be negative");
  return fd;
}

static int checkevents(lua_State *L, int idx) {
  static const char *const names[] = {"r", "w", "rw", NULL};
  static const int bits[] = {POLLIN, POLLOUT, POLLIN | POLLOUT};
  lua_Integer ev, valid = LSK_POLLEVENTS | POLLERR | POLLHUP;
  if (lua_type(L, idx) == LUA_TSTRING)
    return bits[luaL_checkoption(L, idx, NULL, names)];
  ev = luaL_checkinteger(L, idx);
  luaL_argcheck(L, (ev & ~valid) == 0, idx, "events must be 'r', 'w', "
                "'rw' or POLLIN, POLLOUT, POLLPRI, POLLRDHUP or-ed together");
  return (int)(ev & LSK_POLLEVENTS);  /* ERR and HUP come anyway */
}

/* Seconds to milliseconds, rounded up so that a wait never ends before
   its timeout. nil, a negative number or more than LSK_MAX_TIMEOUT
   (math.huge, say) wait forever: -1. */
static double checkms(lua_State *L, int idx) {
  lua_Number t;
  double ms, whole;
  if (lua_isnoneornil(L, idx)) return -1;
  t = luaL_checknumber(L, idx);
  luaL_argcheck(L, !isnan(t), idx, "timeout must be a number, not NaN");
  if (t < 0 || t > LSK_MAX_TIMEOUT) return -1;
  ms = (double)t * 1000.0;
  whole = (double)(long long)ms;  /* <= 1e12: exact */
  return whole < ms ? whole + 1 : whole;
}

static int nomemory(lua_State *L) {
  lua_pushliteral(L, "not enough memory");
  return lua_error(L);
}

static int failure(lua_State *L, int err, int fd) {
  if (err == LSK_NOMEM) return nomemory(L);
  if (err == EEXIST) {
    lua_pushfstring(L, "descriptor %d is already registered", fd);
    return lsk_pushfailure(L, lua_tostring(L, -1), "EEXIST");
  }
  if (err == ENOENT) {
    lua_pushfstring(L, "descriptor %d is not registered", fd);
    return lsk_pushfailure(L, lua_tostring(L, -1), "ENOENT");
  }
  return lsk_pusherror(L, err, NULL);
}

/* Created closed, then opened: a failed open leaves a closed poller for
   the collector, which has nothing to free. */
static int core_poller(lua_State *L) {
  int b = luaL_checkoption(L, 1, DEFAULT_BACKEND, backend_names);
  lsk_poller *p = (lsk_poller *)lua_newuserdatauv(L, sizeof *p, 1);
  int err;
  p->ops = NULL;
  p->fd = -1;
  p->count = 0;
  p->waits = 0;
  p->state = NULL;
  luaL_setmetatable(L, LSK_POLLER);
  lua_newtable(L);
  lua_setiuservalue(L, -2, OBJS);
  err = backends[b]->open(p);
  if (err == LSK_NOMEM) return nomemory(L);
  if (err != 0) return lsk_pusherror(L, err, NULL);
  p->ops = backends[b];
  return 1;
}

/* The one close routine for close, __gc and __close. */
static void closepoller(lua_State *L, lsk_poller *p) {
  const lsk_pollops *ops = p->ops;
  if (ops == NULL) return;
  p->ops = NULL;
  p->count = 0;
  ops->close(p);
  lua_pushnil(L);  /* let the objs go */
  lua_setiuservalue(L, 1, OBJS);
}

static int poller_close(lua_State *L) {
  closepoller(L, topoller(L));
  lua_pushboolean(L, 1);
  return 1;
}

static int poller_gc(lua_State *L) {
  closepoller(L, topoller(L));
  return 0;
}

static int poller_tostring(lua_State *L) {
  lsk_poller *p = topoller(L);
  if (p->ops == NULL)
    lua_pushliteral(L, LSK_POLLER " (closed)");
  else
    lua_pushfstring(L, LSK_POLLER " (%s, %d fds)", p->ops->name, p->count);
  return 1;
}

/* add(fd, events[, obj]): obj defaults to the fd argument as given. The
   table is written first, as that may raise; a failed add puts the old
   entry back, which cannot raise (the key exists). */
static int poller_add(lua_State *L) {
  lsk_poller *p = checkpoller(L);
  int fd = checkfd(L, 2);
  int events = checkevents(L, 3);
  int known, err;
  lua_settop(L, 4);
  if (lua_isnil(L, 4)) {
    lua_pushvalue(L, 2);
    lua_replace(L, 4);
  }
  pushobjs(L);                                    /* 5: fd -> obj */
  known = lua_rawgeti(L, 5, fd) != LUA_TNIL;      /* 6: old obj */
  lua_pushvalue(L, 4);
  lua_rawseti(L, 5, fd);
  err = p->ops->add(p, fd, events, known);
  if (err != 0) {
    lua_rawseti(L, 5, fd);                        /* 6 goes back */
    return failure(L, err, fd);
  }
  if (!known) p->count++;  /* else a stale entry was replaced */
  lua_pushboolean(L, 1);
  return 1;
}

/* modify(fd, events[, obj]): without obj, the registered one stays. */
static int poller_modify(lua_State *L) {
  lsk_poller *p = checkpoller(L);
  int fd = checkfd(L, 2);
  int events = checkevents(L, 3);
  int err;
  lua_settop(L, 4);
  pushobjs(L);                                    /* 5: fd -> obj */
  if (lua_rawgeti(L, 5, fd) == LUA_TNIL) return failure(L, ENOENT, fd);
  err = p->ops->modify(p, fd, events);
  if (err != 0) return failure(L, err, fd);
  if (!lua_isnil(L, 4)) {
    lua_pushvalue(L, 4);
    lua_rawseti(L, 5, fd);                        /* key exists: no raise */
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* remove(fd) succeeds for a descriptor closed while registered, though
   the kernel has forgotten it: the entry is what counts. */
static int poller_remove(lua_State *L) {
  lsk_poller *p = checkpoller(L);
  int fd = checkfd(L, 2);
  lua_settop(L, 2);
  pushobjs(L);                                    /* 3: fd -> obj */
  if (lua_rawgeti(L, 3, fd) == LUA_TNIL) return failure(L, ENOENT, fd);
  p->ops->remove(p, fd);
  lua_pushnil(L);
  lua_rawseti(L, 3, fd);
  p->count--;
  lua_pushboolean(L, 1);
  return 1;
}

/* The backends take an int of milliseconds: longer waits (24.8 days and
   more) go in pieces. A piece that returns 0 has run its full length. */
static int waitms(lsk_poller *p, double ms, const lsk_ready **ready) {
  p->waits++;
  for (;;) {
    int piece = ms > INT_MAX ? INT_MAX : (int)ms;
    int n = p->ops->wait(p, piece, ready);
    if (n != 0 || ms <= INT_MAX) return n;
    ms -= piece;
  }
}

/* Sets t[i], t[i+1], ... to nil up to the first nil: what a previous,
   longer wait left in a reused table. */
static void cleartail(lua_State *L, int t, lua_Integer i) {
  for (; lua_rawgeti(L, t, i) != LUA_TNIL; i++) {
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_rawseti(L, t, i);
  }
  lua_pop(L, 1);
}

static void opttable(lua_State *L, int idx) {
  if (lua_isnil(L, idx)) {
    lua_newtable(L);
    lua_replace(L, idx);
  }
  else
    luaL_checktype(L, idx, LUA_TTABLE);
}

/* wait(timeout[, objs[, revents]]) -> objs, revents, n. EINTR gives
   n = 0, so that the caller can look at its timers and wait again. */
static int poller_wait(lua_State *L) {
  const lsk_ready *ready = NULL;
  lsk_poller *p = topoller(L);  /* type only: see below */
  double ms = checkms(L, 2);
  int i, n;
  lua_Integer k = 0;
  lua_settop(L, 4);
  opttable(L, 3);
  opttable(L, 4);
  pushobjs(L);                                    /* 5: fd -> obj */
  /* Only now, as creating a table may run a finalizer, which may close
     the poller. From here to the end, no Lua code runs. */
  p = checkpoller(L);
  n = waitms(p, ms, &ready);
  if (n < 0) {
    if (n != -EINTR) return lsk_pusherror(L, -n, NULL);
    n = 0;
  }
  for (i = 0; i < n; i++) {
    /* No entry: the kernel still reports a descriptor that was removed
       after being closed while a duplicate kept it open. Skip it. */
    if (lua_rawgeti(L, 5, ready[i].fd) == LUA_TNIL) {
      lua_pop(L, 1);
      continue;
    }
    lua_rawseti(L, 3, ++k);
    lua_pushinteger(L, ready[i].revents);
    lua_rawseti(L, 4, k);
  }
  cleartail(L, 3, k + 1);
  cleartail(L, 4, k + 1);
  /* the ready objects first, as a plain p:wait(t) is mostly iterated */
  lua_pushvalue(L, 3);
  lua_pushvalue(L, 4);
  lua_pushinteger(L, k);
  return 3;
}

/*
 * dispatch(timeout, readers, writers, on_event, on_resumed) -> n
 *
 * One turn of lunasock.loop's scheduler with its common case in C: a
 * connection's task parked alone on its descriptor, resumed when that is
 * ready, which parks again on the same descriptor. Waits like wait, then
 * for each ready descriptor fd with revents:
 * - revents exactly POLLIN (POLLOUT) and readers[fd] (writers[fd]) a task
 *   table alone there (fields chain and timer false) whose co is a
 *   suspended coroutine: the task is taken off the list (list[fd] = nil)
 *   and co resumed with true, as the loop would. If co yields the same
 *   wait again (fd, the same event, no time limit) while fd is still
 *   registered and nobody else waits there, the task goes back on the
 *   list and no Lua runs but the task's own. Otherwise on_resumed(task,
 *   ok, ...) gets what coroutine.resume would have returned (up to three
 *   values). The task's own fields are not touched: on_resumed brings
 *   them up to date, and while the task runs nobody looks at them.
 * - anything else: on_event(fd, revents).
 * Returns the number of events taken, or fail when the wait fails (EINTR
 * counts as 0 events). A callback that closes the poller or waits on it
 * ends the turn early; the events left are not lost, being level-
 * triggered: the next wait reports them again.
 */
enum {
  D_READERS = 3, D_WRITERS, D_ONEVENT, D_ONRESUMED, D_OBJS,
  D_KCHAIN, D_KTIMER, D_KCO,   /* the field names, interned once per turn */
  D_TASK                       /* the task being looked at */
};

/* Whether the task's field named at key is exactly false. */
static int isfalse(lua_State *L, int key) {
  int yes;
  lua_pushvalue(L, key);
  yes = lua_rawget(L, D_TASK) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
  lua_pop(L, 1);
  return yes;
}

/* The suspended coroutine of the task at D_TASK, pushed, if the task is
   alone on its list and has no timer; else NULL. */
static lua_State *parkedalone(lua_State *L) {
  lua_State *co;
  if (!isfalse(L, D_KCHAIN) || !isfalse(L, D_KTIMER)) return NULL;
  lua_pushvalue(L, D_KCO);
  if (lua_rawget(L, D_TASK) != LUA_TTHREAD) return NULL;
  co = lua_tothread(L, -1);
  return lua_status(co) == LUA_YIELD ? co : NULL;
}

/* Whether co's nres values are the wait fd, events, nil (no limit). */
static int samewait(lua_State *co, int nres, int fd, int events) {
  return nres == 3 && lua_isinteger(co, -3) && lua_tointeger(co, -3) == fd
         && lua_isinteger(co, -2) && lua_tointeger(co, -2) == events
         && lua_isnil(co, -1);
}

/* Resumes the task at D_TASK, parked alone on fd in list for events; its
   coroutine co is on top. */
static void wake(lua_State *L, lua_State *co, int list, int fd, int events) {
  int status, nres;
  if (!lua_checkstack(co, 1)) luaL_error(L, "stack overflow");
  lua_pushnil(L);
  lua_rawseti(L, list, fd);
  lua_pushboolean(co, 1);
  status = lua_resume(co, L, 1, &nres);
  if (status == LUA_YIELD && samewait(co, nres, fd, events)
      && lua_rawgeti(L, D_OBJS, fd) != LUA_TNIL         /* not closed */
      && lua_rawgeti(L, list, fd) == LUA_TNIL) {        /* nobody else */
    lua_pop(co, nres);
    lua_pushvalue(L, D_TASK);
    lua_rawseti(L, list, fd);
    return;
  }
  if (status != LUA_OK && status != LUA_YIELD)
    nres = 1;                                 /* the error object */
  else if (nres > 3) {
    lua_pop(co, nres - 3);                    /* the loop reads three */
    nres = 3;
  }
  lua_settop(L, D_TASK);
  lua_pushvalue(L, D_ONRESUMED);
  lua_pushvalue(L, D_TASK);
  lua_pushboolean(L, status == LUA_OK || status == LUA_YIELD);
  lua_xmove(co, L, nres);
  lua_call(L, nres + 2, 0);
}

static int poller_dispatch(lua_State *L) {
  const lsk_ready *ready = NULL;
  lsk_poller *p = checkpoller(L);
  double ms = checkms(L, 2);
  unsigned waits;
  int i, n;
  luaL_checktype(L, D_READERS, LUA_TTABLE);
  luaL_checktype(L, D_WRITERS, LUA_TTABLE);
  luaL_checktype(L, D_ONEVENT, LUA_TFUNCTION);
  luaL_checktype(L, D_ONRESUMED, LUA_TFUNCTION);
  lua_settop(L, D_ONRESUMED);
  pushobjs(L);                                    /* D_OBJS: fd -> obj */
  lua_pushliteral(L, "chain");
  lua_pushliteral(L, "timer");
  lua_pushliteral(L, "co");
  n = waitms(p, ms, &ready);
  if (n < 0) {
    if (n != -EINTR) return lsk_pusherror(L, -n, NULL);
    n = 0;
  }
  waits = p->waits;
  for (i = 0; i < n && p->ops != NULL && p->waits == waits; i++) {
    int fd = ready[i].fd, ev = ready[i].revents;
    int list = ev == POLLIN ? D_READERS : ev == POLLOUT ? D_WRITERS : 0;
    lua_State *co = NULL;
    /* No entry: a removed descriptor that a duplicate keeps (see wait). */
    if (lua_rawgeti(L, D_OBJS, fd) == LUA_TNIL) {
      lua_pop(L, 1);
      continue;
    }
    lua_pop(L, 1);
    if (list != 0 && lua_rawgeti(L, list, fd) == LUA_TTABLE)  /* D_TASK */
      co = parkedalone(L);
    if (co != NULL)
      wake(L, co, list, fd, ev);
    else {
      lua_settop(L, D_TASK - 1);
      lua_pushvalue(L, D_ONEVENT);
      lua_pushinteger(L, fd);
      lua_pushinteger(L, ev);
      lua_call(L, 2, 0);
    }
    lua_settop(L, D_TASK - 1);
  }
  lua_pushinteger(L, i);
  return 1;
}

static int poller_count(lua_State *L) {
  lua_pushinteger(L, checkpoller(L)->count);
  return 1;
}

static int poller_fileno(lua_State *L) {
  lua_pushinteger(L, checkpoller(L)->fd);
  return 1;
}

static int poller_backend(lua_State *L) {
  lua_pushstring(L, checkpoller(L)->ops->name);
  return 1;
}

const luaL_Reg lsk_poller_funcs[] = {
  {"poller", core_poller},
  {NULL, NULL}
};

const luaL_Reg lsk_poller_methods[] = {
  {"add", poller_add},
  {"modify", poller_modify},
  {"remove", poller_remove},
  {"wait", poller_wait},
  {"dispatch", poller_dispatch},
  {"count", poller_count},
  {"fileno", poller_fileno},
  {"backend", poller_backend},
  {"close", poller_close},
  {NULL, NULL}
};

const luaL_Reg lsk_poller_meta[] = {
  {"__gc", poller_gc},
  {"__close", poller_gc},
  {"__tostring", poller_tostring},
  {NULL, NULL}
};
