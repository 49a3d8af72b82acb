/* lunasock.core: an HTTP server's common request cycle. See LICENSE. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include "lunasock.h"
#include "http_cycle.h"

/*
 * cycle(sock, conn, handler, self, msgh, server, idle), the second closure
 * of core.http_parser, runs lunasock.http.server's common case start to
 * end without going back to Lua between requests: one recv of a head,
 * the common request made from it (http.c, as parse(sock, conn) makes
 * it), the handler called with it (handler(self, req) when self is not
 * nil), and the handler's answer sent with one send when write_head's
 * fast path would send it: a status of FAST, no header fields, a string
 * body, to a keep-alive HTTP/1.1 request that is not HEAD. The bytes are
 * response.whole(status, body)'s, kept per status and body string for
 * the current second and the current response.SERVER. Then the next
 * read, the wait for it a yield to the loop as any read's.
 *
 * It comes back to the server's Lua loop with the first thing it does
 * not do itself:
 *   nil             the connection is done (EOF, a reset, a failed read;
 *                   a failed send, with conn.closing set)
 *   false           input that is not one whole common request (or a
 *                   socket it does not wait on: with a timeout, outside
 *                   a loop task), left in conn.buf from conn.pos = 1
 *   req, s, h, b    a request whose handler returned what the fast path
 *                   does not send (or left conn special, closing or
 *                   timed): the Lua loop sends it
 *   req, nil, nil, nil, err   a request whose handler raised err (msgh's
 *                   result: it is called as xpcall calls its handler)
 *   true[, rest]    answered (rest: what the send left, for the stream),
 *                   and server.crowded is set (a busy or closed server)
 * Meanwhile it keeps conn's deadline as request.read and the Lua loop
 * do: false while a request is handled, server.now + idle after it.
 */

#define RECV_CHUNK 16384   /* bytes one read for a head asks for */
#define SLOTS 64           /* answers kept */

typedef struct answer {
  lua_Integer status;
  const char *body;        /* the body string's bytes: its identity */
  const char *data;        /* the whole answer */
  size_t len;
} answer;

/* The answers kept, for one second's Date and one Server value, each
   found by its status and the address of its body string's bytes. The
   strings they point into are anchored in P_ANCHOR (slot i, from 0:
   [2i + 1] its body, [2i + 2] its answer; [2 SLOTS + 1] the Server
   value), so no other string can take such an address meanwhile. */
typedef struct cache {
  time_t second;
  const void *server;
  answer slot[SLOTS];
} cache;

size_t lsk_http_cycle_cache_size(void) { return sizeof(cache); }

/* the stack of a cycle */
enum {
  C_SOCK = 1, C_CONN, C_HANDLER, C_SELF, C_MSGH, C_SERVER, C_IDLE,
  C_DATA,                  /* the bytes read */
  C_REQ,                   /* the request */
  C_S, C_H, C_B            /* the handler's answer */
};

/* Whether field key of the table at t is set (neither nil nor false). */
static int isset(lua_State *L, int t, int key) {
  int yes;
  P_PUSH(key);
  yes = lua_rawget(L, t) > LUA_TBOOLEAN || lua_toboolean(L, -1);
  lua_pop(L, 1);
  return yes;
}

enum { REQUEST = -1, WAIT = -2, AGAIN = -1 };

/* Reads and parses the next head: REQUEST (the request at C_REQ, made
   lean; *kind: see lsk_http_parse_head), WAIT, or a count of results to
   return. */
static int next_request(lua_State *L, lsk_socket *s, int *kind) {
  char buf[RECV_CHUNK];
  size_t got = 0;
  int r, n, top;
  if (s->fd < 0) {                          /* closed meanwhile */
    lua_pushnil(L);
    return 1;
  }
  r = lsk_recv_into(L, s, buf, sizeof buf, &got);
  if (r == LSK_WANT_READ) {
    if (s->timeout < 0) return WAIT;
    lua_pushboolean(L, 0);                  /* request.read waits */
    return 1;
  }
  if (r != 0 || got == 0) {                 /* an error, or EOF */
    lua_pushnil(L);
    return 1;
  }
  lsk_http_push_again(L, P_LASTH, buf, got);  /* C_DATA */
  n = lsk_http_parse_head(L, C_DATA, 1, C_CONN, 1, kind);
  top = lua_gettop(L);
  if (lua_toboolean(L, top - n + 1)
      && lua_tointeger(L, top) == (lua_Integer)got + 1) {
    lua_pushvalue(L, top - 1);
    lua_replace(L, C_REQ);
    lua_settop(L, C_REQ);
    return REQUEST;
  }
  /* not the common request, or more than one: request.read's */
  lua_settop(L, C_DATA);
  P_PUSH(P_KBUF);
  lua_pushvalue(L, C_DATA);
  lua_rawset(L, C_CONN);
  P_PUSH(P_KPOS);
  lua_pushinteger(L, 1);
  lua_rawset(L, C_CONN);
  lua_pushboolean(L, 0);
  return 1;
}

/* The answer kept for status and the body at C_B, made on a miss by
   response.whole; NULL when that has none. */
static const answer *kept(lua_State *L, lua_Integer status) {
  cache *c = (cache *)lua_touserdata(L, lua_upvalueindex(P_CACHE));
  time_t now = time(NULL);
  const void *server;
  const char *body = lua_tostring(L, C_B);
  answer *a;
  P_PUSH(P_KSERVER);
  lua_rawget(L, lua_upvalueindex(P_RESP));
  server = lua_topointer(L, -1);
  if (now != c->second || server != c->server) {
    memset(c->slot, 0, sizeof c->slot);
    c->second = now;
    c->server = server;
    lua_rawseti(L, lua_upvalueindex(P_ANCHOR), 2 * SLOTS + 1);
  } else {
    lua_pop(L, 1);
  }
  a = &c->slot[(((size_t)body >> 4) ^ (size_t)status) % SLOTS];
  if (a->body == body && a->status == status) return a;
  lua_pushvalue(L, lua_upvalueindex(P_WHOLE));
  lua_pushvalue(L, C_S);
  lua_pushvalue(L, C_B);
  lua_call(L, 2, 1);
  if (lua_type(L, -1) != LUA_TSTRING) {
    lua_pop(L, 1);
    return NULL;
  }
  a->data = lua_tolstring(L, -1, &a->len);
  a->body = body;
  a->status = status;
  lua_rawseti(L, lua_upvalueindex(P_ANCHOR), 2 * (int)(a - c->slot) + 2);
  lua_pushvalue(L, C_B);
  lua_rawseti(L, lua_upvalueindex(P_ANCHOR), 2 * (int)(a - c->slot) + 1);
  return a;
}

/* Sends the handler's answer when the fast path may: AGAIN (sent, go
   on), or a count of results to return. */
static int answer_request(lua_State *L, lsk_socket *s, int kind) {
  const answer *a;
  ssize_t r;
  lua_settop(L, C_B);
  if (!(kind & LSK_HTTP_FAST) || s->fd < 0 || !lua_isinteger(L, C_S)
      || !lua_isnil(L, C_H) || lua_type(L, C_B) != LUA_TSTRING
      || isset(L, C_CONN, P_KSPECIAL) || isset(L, C_CONN, P_KCLOSING)
      || isset(L, C_CONN, P_KTIMED)
      || (a = kept(L, lua_tointeger(L, C_S))) == NULL) {
    /* req, s, h, b: Lua sends, reading the request's version and
       keep_alive at every turn: they are made real first */
    if (kind & LSK_HTTP_LEAN) lsk_http_set_version(L, C_REQ, 1);
    return 4;
  }
  do r = send(s->fd, a->data, a->len, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    P_PUSH(P_KCLOSING);
    lua_pushboolean(L, 1);
    lua_rawset(L, C_CONN);
    lua_pushnil(L);
    return 1;
  }
  P_PUSH(P_KDEADLINE);
  P_PUSH(P_KNOW);
  lua_rawget(L, C_SERVER);
  lua_pushnumber(L, lua_tonumber(L, -1) + lua_tonumber(L, C_IDLE));
  lua_replace(L, -2);
  lua_rawset(L, C_CONN);
  if ((size_t)r < a->len) {                 /* the rest, through the stream */
    size_t sent = r > 0 ? (size_t)r : 0;
    lua_pushboolean(L, 1);
    lua_pushlstring(L, a->data + sent, a->len - sent);
    return 2;
  }
  if (isset(L, C_SERVER, P_KCROWDED)) {     /* or closed */
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_settop(L, C_IDLE);
  return AGAIN;
}

static int after_handler(lua_State *L, int status, lua_KContext kind);

/* The handler raised: req, nil, nil, nil and the error (msgh's) on top. */
static int raised(lua_State *L) {
  lua_settop(L, C_REQ + 1);
  lua_pushnil(L);
  lua_pushnil(L);
  lua_pushnil(L);
  lua_rotate(L, C_REQ + 1, -1);
  return 5;
}

static int after_wait(lua_State *L, int status, lua_KContext ctx);

/* The cycle from a read (answering 0) or from the handler's answer. */
static int run(lua_State *L, int answering, int kind) {
  for (;;) {
    lsk_socket *s = (lsk_socket *)lua_touserdata(L, C_SOCK);
    int n;
    if (!answering) {
      n = next_request(L, s, &kind);
      if (n == WAIT) {
        lua_pushinteger(L, s->fd);
        lua_pushinteger(L, POLLIN);
        lua_pushnil(L);
        return lua_yieldk(L, 3, 0, after_wait);
      }
      if (n != REQUEST) return n;
      P_PUSH(P_KDEADLINE);
      lua_pushboolean(L, 0);
      lua_rawset(L, C_CONN);
      lua_pushvalue(L, C_HANDLER);
      if (lua_isnil(L, C_SELF)) {
        n = 1;
      } else {
        lua_pushvalue(L, C_SELF);
        n = 2;
      }
      lua_pushvalue(L, C_REQ);
      if (lua_pcallk(L, n, 3, C_MSGH, kind, after_handler) != LUA_OK)
        return raised(L);
    }
    answering = 0;
    n = answer_request(L, (lsk_socket *)lua_touserdata(L, C_SOCK), kind);
    if (n != AGAIN) return n;
  }
}

static int after_handler(lua_State *L, int status, lua_KContext kind) {
  if (status != LUA_OK && status != LUA_YIELD) return raised(L);
  return run(L, 1, (int)kind);
}

/* Resumed by the loop: true when the socket is readable. */
static int after_wait(lua_State *L, int status, lua_KContext ctx) {
  lsk_socket *s = (lsk_socket *)lua_touserdata(L, C_SOCK);
  int ready = lua_toboolean(L, -1);
  (void)status;
  (void)ctx;
  lua_settop(L, C_IDLE);
  if (s->fd < 0) {                          /* closed meanwhile */
    lua_pushnil(L);
    return 1;
  }
  if (!ready) {
    lua_pushboolean(L, 0);
    return 1;
  }
  return run(L, 0, 0);
}

int lsk_http_cycle(lua_State *L) {
  lsk_checkopen(L, C_SOCK);
  luaL_checktype(L, C_CONN, LUA_TTABLE);
  luaL_checktype(L, C_MSGH, LUA_TFUNCTION);
  luaL_checktype(L, C_SERVER, LUA_TTABLE);
  luaL_checknumber(L, C_IDLE);
  lua_settop(L, C_IDLE);
  /* C_B and what kept and a head's parse push on it (a field list, a
     userdata of fields), the results of both included */
  luaL_checkstack(L, 32, "the HTTP cycle");
  if (!lua_isyieldable(L) || !lsk_isloopthread(L)) {
    lua_pushboolean(L, 0);                  /* request.read's */
    return 1;
  }
  return run(L, 0, 0);
}
