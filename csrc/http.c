/* lunasock.core: HTTP/1.1 heads and chunked bodies for Lua. See LICENSE. */
#include <string.h>
#include <strings.h>

#include "lunasock.h"
#include "http_parse.h"
#include "http_cycle.h"

/*
 * The Lua face of http_parse.c, which holds the grammar. Each call parses
 * from index init of a stream's buffer and answers in one of three ways:
 * a result (the head, the decoded chunk data), false plus the scan state
 * to pass back once more has come, or nil plus the reason's name. What
 * a reason means (a status, an error code) is the caller's business.
 */

#define MAX_STACK_FIELDS 128   /* 4 KiB of C stack: max_headers 100 fits */
#define MAX_LIMIT 0x7fffffff

/* Fields at hand for a parse: on the C stack for the usual count, in a
   userdata (left on the Lua stack) for a larger max_fields. */
static lsk_http_field *field_space(lua_State *L, lsk_http_field *local,
                                   size_t max) {
  if (max <= MAX_STACK_FIELDS) return local;
  return lua_newuserdatauv(L, max * sizeof(lsk_http_field), 0);
}

/* Reads buf (1), init (2), state (3) and the limits from index 4 on;
   returns the unread part of buf through *s and *len. */
static void head_args(lua_State *L, const char **s, size_t *len,
                      lsk_http_limits *lim, int with_line) {
  size_t blen;
  const char *buf = luaL_checklstring(L, 1, &blen);
  lua_Integer init = luaL_checkinteger(L, 2);
  int a = 4;
  lua_Integer v;
  luaL_checkinteger(L, 3);
  luaL_argcheck(L, init >= 1, 2, "index must be >= 1");
  if (with_line) {
    v = luaL_checkinteger(L, a);
    luaL_argcheck(L, v >= 0 && v <= MAX_LIMIT, a, "limit must be 0-2^31");
    lim->max_line = (size_t)v;
    a++;
  }
  v = luaL_checkinteger(L, a);
  luaL_argcheck(L, v >= 0 && v <= MAX_LIMIT, a, "limit must be 0-2^31");
  lim->max_head = (size_t)v;
  if (!with_line) lim->max_line = lim->max_head;
  v = luaL_checkinteger(L, a + 1);
  luaL_argcheck(L, v >= 0 && v <= MAX_LIMIT, a + 1, "limit must be 0-2^31");
  lim->max_fields = (size_t)v;
  if ((size_t)init > blen + 1) init = (lua_Integer)blen + 1;
  *s = buf + init - 1;
  *len = blen - (size_t)(init - 1);
}

/* Finds the head's end: > 0 its offset, 0 need more (false and the new
   state pushed), < 0 a reason (nil and its name pushed). */
static long find_head(lua_State *L, const char *s, size_t len, size_t *skip,
                      const lsk_http_limits *lim, long long state) {
  long end = lsk_http_head_end(s, len, &state, skip, lim);
  if (end == 0) {
    lua_pushboolean(L, 0);
    lua_pushinteger(L, (lua_Integer)state);
  } else if (end < 0) {
    luaL_pushfail(L);
    lua_pushstring(L, lsk_http_reason_name((int)-end));
  }
  return end;
}

static int push_reason(lua_State *L, long r) {
  luaL_pushfail(L);
  lua_pushstring(L, lsk_http_reason_name((int)-r));
  return 2;
}

/* Pushes a field name lower-cased. */
static void push_lower(lua_State *L, const char *name, size_t len) {
  char local[128];
  luaL_Buffer b;
  char *out = len <= sizeof local ? local : luaL_buffinitsize(L, &b, len);
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  if (out == local) lua_pushlstring(L, out, len);
  else luaL_pushresultsize(&b, len);
}

/* Pushes n fields as a new list {name1, value1, ...}: names lower-cased
   or as sent, a continuation line's name false. */
static void push_fields(lua_State *L, const lsk_http_field *f, long n,
                        int lower) {
  long i;
  lua_createtable(L, (int)(2 * n), 0);
  for (i = 0; i < n; i++) {
    if (f[i].name == NULL) lua_pushboolean(L, 0);
    else if (lower) push_lower(L, f[i].name, f[i].name_len);
    else lua_pushlstring(L, f[i].name, f[i].name_len);
    lua_rawseti(L, -2, 2 * i + 1);
    lua_pushlstring(L, f[i].value, f[i].value_len);
    lua_rawseti(L, -2, 2 * i + 2);
  }
}

/* Bits of core.http_request's mask: the fields a server must look at. */
#define F_HOST 1
#define F_HOSTS 2            /* Host more than once */
#define F_BADHOST 4          /* a byte not allowed in a Host */
#define F_LENGTH 8
#define F_TE 16
#define F_CONNECTION 32
#define F_EXPECT 64
#define F_FRAGMENT 128       /* "#" in the target */
#define F_ORIGIN 256         /* the target starts with "/" */
#define F_COND 512           /* a precondition field, or Range */
#define F_NEEDED (F_LENGTH | F_TE | F_CONNECTION | F_EXPECT)

static int name_is(const lsk_http_field *f, const char *lname, size_t n) {
  return f->name_len == n && strncasecmp(f->name, lname, n) == 0;
}

static int field_mask(const lsk_http_field *f, long n) {
  int mask = 0;
  long i;
  for (i = 0; i < n; i++, f++) {
    switch (f->name_len) {
    case 4:
      if (name_is(f, "host", 4)) {
        mask |= (mask & F_HOST) ? F_HOSTS : F_HOST;
        if (!lsk_http_valid_host(f->value, f->value_len)) mask |= F_BADHOST;
      }
      break;
    case 5:
      if (name_is(f, "range", 5)) mask |= F_COND;
      break;
    case 6:
      if (name_is(f, "expect", 6)) mask |= F_EXPECT;
      break;
    case 8:
      if (name_is(f, "if-match", 8) || name_is(f, "if-range", 8))
        mask |= F_COND;
      break;
    case 10:
      if (name_is(f, "connection", 10)) mask |= F_CONNECTION;
      break;
    case 13:
      if (name_is(f, "if-none-match", 13)) mask |= F_COND;
      break;
    case 14:
      if (name_is(f, "content-length", 14)) mask |= F_LENGTH;
      break;
    case 17:
      if (name_is(f, "transfer-encoding", 17)) mask |= F_TE;
      else if (name_is(f, "if-modified-since", 17)) mask |= F_COND;
      break;
    case 19:
      if (name_is(f, "if-unmodified-since", 19)) mask |= F_COND;
      break;
    default:
      break;
    }
  }
  return mask;
}

/* The mask of a parsed request head, and the index of the first "?" of
   its target (0: none) through *q. */
static int request_mask(const lsk_http_request *req,
                        const lsk_http_field *fields, long n, lua_Integer *q) {
  int mask = field_mask(fields, n);
  const char *at = memchr(req->target, '?', req->target_len);
  if (memchr(req->target, '#', req->target_len)) mask |= F_FRAGMENT;
  if (req->target[0] == '/') mask |= F_ORIGIN;
  *q = at ? (lua_Integer)(at - req->target) + 1 : 0;
  return mask;
}

/* Pushes core.http_request's seven results for a parsed head. */
static int push_request(lua_State *L, lua_Integer stop,
                        const lsk_http_request *req,
                        const lsk_http_field *fields, long n, int mask,
                        lua_Integer q, int all) {
  lua_pushinteger(L, stop);
  lua_pushlstring(L, req->method, req->method_len);
  lua_pushlstring(L, req->target, req->target_len);
  lua_pushinteger(L, req->minor);
  if (all || (mask & (F_NEEDED | F_COND))) push_fields(L, fields, n, 1);
  else lua_pushboolean(L, 0);
  lua_pushinteger(L, mask);
  lua_pushinteger(L, q);
  return 7;
}

/* core.http_request(buf, init, state, max_line, max_head, max_fields
   [, all]) -> see docs/core.md. The field list is made only when asked
   (all) or when it holds a field the server must read, or a precondition:
   a request with Host alone costs no table and no strings for its
   fields. */
static int core_http_request(lua_State *L) {
  lsk_http_limits lim = {0, 0, 0, 0, 1};
  lsk_http_field local[MAX_STACK_FIELDS], *fields;
  lsk_http_request req;
  const char *s;
  size_t len, skip = 0;
  long end, n;
  lua_Integer q;
  int mask, all = lua_toboolean(L, 7);
  head_args(L, &s, &len, &lim, 1);
  end = find_head(L, s, len, &skip, &lim, (long long)lua_tointeger(L, 3));
  if (end <= 0) return 2;
  fields = field_space(L, local, lim.max_fields);
  n = lsk_http_parse_request(s + skip, (size_t)end - skip, &req, fields, &lim);
  if (n < 0) return push_reason(L, n);
  mask = request_mask(&req, fields, n, &q);
  return push_request(L, lua_tointeger(L, 2) + end, &req, fields, n, mask, q,
                      all);
}

void lsk_http_push_again(lua_State *L, int k, const char *s, size_t len) {
  size_t n;
  const char *last = lua_tolstring(L, lua_upvalueindex(k), &n);
  if (n == len && memcmp(last, s, len) == 0) {
    lua_pushvalue(L, lua_upvalueindex(k));
    return;
  }
  lua_pushlstring(L, s, len);
  lua_pushvalue(L, -1);
  lua_replace(L, lua_upvalueindex(k));
}

/* Sets version and keep_alive of the common request at index t, of
   HTTP/1.minor. */
void lsk_http_set_version(lua_State *L, int t, int minor) {
  P_PUSH(P_KVERSION);
  lua_pushvalue(L, lua_upvalueindex(minor == 0 ? P_V10 : P_V11));
  lua_rawset(L, t);
  P_PUSH(P_KKEEP);
  lua_pushboolean(L, minor != 0);
  lua_rawset(L, t);
}

/* Parses the head at init of the string at index bi; pushes parse's
   results (conn: the value at index ci). The running closure is a parse
   or a cycle (http_cycle.h: the upvalues both have). *kind: for a
   request made, LSK_HTTP_FAST if it is HTTP/1.1 and not HEAD, and
   LSK_HTTP_LEAN if it was made without version and keep_alive (asked
   for with lean, for HTTP/1.1: Request.__index answers "1.1", true). */
int lsk_http_parse_head(lua_State *L, int bi, lua_Integer init, int ci,
                        int lean, int *kind) {
  const lsk_http_limits *lim =
    (const lsk_http_limits *)lua_touserdata(L, lua_upvalueindex(P_LIMITS));
  lsk_http_field local[MAX_STACK_FIELDS], *fields;
  lsk_http_request req;
  size_t blen, len, skip = 0;
  const char *buf = lua_tolstring(L, bi, &blen), *s;
  lua_Integer q;
  long end, n;
  int mask, m, t;
  if ((size_t)init > blen + 1) init = (lua_Integer)blen + 1;
  s = buf + init - 1;
  len = blen - (size_t)(init - 1);
  lua_pushboolean(L, 0);
  end = find_head(L, s, len, &skip, lim, 0);
  if (end <= 0) return 3;                         /* false, false|nil, ... */
  fields = field_space(L, local, lim->max_fields);  /* may push a userdata */
  n = lsk_http_parse_request(s + skip, (size_t)end - skip, &req, fields, lim);
  if (n < 0) {
    lua_pushboolean(L, 0);
    return 1 + push_reason(L, n);
  }
  mask = request_mask(&req, fields, n, &q);
  if (mask == (F_HOST | F_ORIGIN) && q == 0) {
    m = lua_gettop(L) + 1;
    /* m: the method, m + 1: the target */
    lsk_http_push_again(L, P_LASTM, req.method, req.method_len);
    lua_pushvalue(L, m);
    if (lua_rawget(L, lua_upvalueindex(P_METHODS)) != LUA_TNIL
        && lua_toboolean(L, -1)) {
      lua_pop(L, 1);
      lsk_http_push_again(L, P_LASTT, req.target, req.target_len);
      /* t: the request; conn, head and at in its array part (no new
         hash keys: the cheap stores), path, not target, in its hash: of
         eight, or, lean, of four (method and path, and room for two a
         handler or the router adds: a quarter fewer bytes a request) */
      lean = lean && req.minor != 0;
      lua_createtable(L, init != 1 ? 3 : 2, lean ? 4 : 8);
      t = m + 2;
      lua_pushvalue(L, ci);
      lua_rawseti(L, t, 1);
      lua_pushvalue(L, bi);
      lua_rawseti(L, t, 2);
      if (init != 1) {
        lua_pushinteger(L, init);
        lua_rawseti(L, t, 3);
      }
      P_PUSH(P_KMETHOD);
      lua_pushvalue(L, m);
      lua_rawset(L, t);
      P_PUSH(P_KPATH);
      lua_pushvalue(L, m + 1);
      lua_rawset(L, t);
      if (!lean) lsk_http_set_version(L, t, req.minor);
      lua_pushvalue(L, lua_upvalueindex(P_META));
      lua_setmetatable(L, t);
      lua_pushinteger(L, init + end);
      *kind = (lean ? LSK_HTTP_LEAN : 0)
              | (req.minor != 0
                 && !(req.method_len == 4 && memcmp(req.method, "HEAD", 4) == 0)
                 ? LSK_HTTP_FAST : 0);
      return 2;
    }
    lua_pop(L, 2);                                /* not accepted here */
  }
  lua_pushboolean(L, 0);
  return 1 + push_request(L, init + end, &req, fields, n, mask, q, 0);
}

#define RECV_CHUNK 16384   /* bytes one read for a head asks for */

/* parse(sock, conn): a read, then the parse of what came, from 1. */
static int recv_attempt(lua_State *L, lsk_socket *s, int base) {
  char buf[RECV_CHUNK];
  size_t got = 0;
  int n, kind, r = lsk_recv_into(L, s, buf, sizeof buf, &got);
  if (r != 0) return r;   /* LSK_WANT_READ, or the error triple pushed */
  if (got == 0) {                                 /* EOF: "" */
    lua_pushliteral(L, "");
    return 1;
  }
  lsk_http_push_again(L, P_LASTH, buf, got);      /* the buffer */
  n = lsk_http_parse_head(L, base + 3, 1, 2, 0, &kind);
  if (lua_gettop(L) != base + 3 + n) {            /* a field space between */
    lua_pushvalue(L, base + 3);
    lua_insert(L, -(n + 1));
  }
  return n + 1;
}

static int http_parse(lua_State *L) {
  size_t blen;
  int kind;
  lua_Integer init;
  if (lua_type(L, 1) != LUA_TSTRING) {
    static const lsk_op op = {recv_attempt, 2};
    return lsk_blocking(L, &op, lsk_checkopen(L, 1));
  }
  luaL_checklstring(L, 1, &blen);
  init = luaL_checkinteger(L, 2);
  luaL_argcheck(L, init >= 1, 2, "index must be >= 1");
  lua_settop(L, 3);
  return lsk_http_parse_head(L, 1, init, 3, 0, &kind);
}

/*
 * core.http_parser(max_line, max_head, max_fields, methods, meta[, whole,
 * response]) -> parse[, cycle]
 *
 * A server's reader of request heads, its limits and policy bound once:
 * parse(buf, init, conn) answers the common request (an origin-form
 * target without "?" or "#", one valid Host, none of Content-Length,
 * Transfer-Encoding, Connection or Expect, a method that methods[method]
 * accepts) with the request table itself and the index past its head,
 * made in this one call: {conn, buf, init (only when it is not 1), method
 * = method, path = target, version = "1.0" | "1.1", keep_alive = (minor
 * ~= 0)} with metatable meta (whose __index answers target: the same
 * string as path). Anything else comes back as false followed by what
 * core.http_request(buf, init, 0, max_line, max_head, max_fields)
 * returns, for the caller's own rules. parse(sock, conn) reads first.
 * With whole and response, also the server's cycle (http_cycle.c).
 */
static int core_http_parser(lua_State *L) {
  static const char *const keys[] = {LSK_HTTP_PARSER_KEYS};
  static const char *const cycle_keys[] = {LSK_HTTP_CYCLE_KEYS};
  lsk_http_limits *lim;
  size_t i;
  lua_Integer v[3];
  int cycle = !lua_isnoneornil(L, 6), first, k;
  for (i = 0; i < 3; i++) {
    v[i] = luaL_checkinteger(L, (int)i + 1);
    luaL_argcheck(L, v[i] >= 0 && v[i] <= MAX_LIMIT, (int)i + 1,
                  "limit must be 0-2^31");
  }
  luaL_checktype(L, 4, LUA_TTABLE);
  luaL_checktype(L, 5, LUA_TTABLE);
  if (cycle) {
    luaL_checktype(L, 6, LUA_TFUNCTION);
    luaL_checktype(L, 7, LUA_TTABLE);
  }
  lua_settop(L, 7);
  luaL_checkstack(L, 2 * P_NUP, "making a parser");
  first = lua_gettop(L) + 1;
  for (i = 1; i < P_LIMITS; i++) lua_pushvalue(L, lua_upvalueindex((int)i));
  lim = (lsk_http_limits *)lua_newuserdatauv(L, sizeof *lim, 0);
  lim->max_line = (size_t)v[0];
  lim->max_head = (size_t)v[1];
  lim->max_fields = (size_t)v[2];
  lim->lenient = 0;
  lim->skip_empty = 1;
  lua_pushvalue(L, 4);
  lua_pushvalue(L, 5);
  lua_pushliteral(L, "1.0");
  lua_pushliteral(L, "1.1");
  for (i = 0; i < sizeof keys / sizeof *keys; i++) lua_pushstring(L, keys[i]);
  lua_pushliteral(L, "");
  lua_pushliteral(L, "");
  lua_pushliteral(L, "");
  lua_pushvalue(L, 6);                                    /* P_WHOLE */
  lua_pushvalue(L, 7);                                    /* P_RESP */
  memset(lua_newuserdatauv(L, lsk_http_cycle_cache_size(), 0), 0,
         lsk_http_cycle_cache_size());                    /* P_CACHE */
  lua_newtable(L);                                        /* P_ANCHOR */
  for (i = 0; i < sizeof cycle_keys / sizeof *cycle_keys; i++)
    lua_pushstring(L, cycle_keys[i]);
  if (cycle) {              /* the same list again, for the second closure */
    for (k = first; k < first + P_NUP; k++) lua_pushvalue(L, k);
    lua_pushcclosure(L, lsk_http_cycle, P_NUP);
    lua_replace(L, 7);
  }
  lua_pushcclosure(L, http_parse, P_NUP);
  lua_replace(L, 6);
  lua_settop(L, cycle ? 7 : 6);
  return cycle ? 2 : 1;
}

/* core.http_response(buf, init, state, max_line, max_head, max_fields)
   -> see docs/core.md */
static int core_http_response(lua_State *L) {
  lsk_http_limits lim = {0, 0, 0, 1, 0};
  lsk_http_field local[MAX_STACK_FIELDS], *fields;
  lsk_http_response res;
  const char *s;
  size_t len, skip = 0;
  long end, n;
  head_args(L, &s, &len, &lim, 1);
  end = find_head(L, s, len, &skip, &lim, (long long)lua_tointeger(L, 3));
  if (end <= 0) return 2;
  fields = field_space(L, local, lim.max_fields);
  n = lsk_http_parse_response(s, (size_t)end, &res, fields, &lim);
  if (n < 0) return push_reason(L, n);
  lua_pushinteger(L, lua_tointeger(L, 2) + end);           /* stop */
  lua_pushinteger(L, res.status);
  lua_pushinteger(L, res.major);
  lua_pushinteger(L, res.minor);
  lua_pushlstring(L, res.reason, res.reason_len);
  push_fields(L, fields, n, 0);
  return 6;
}

/* core.http_trailers(buf, init, state, max_size, max_fields) -> see
   docs/core.md */
static int core_http_trailers(lua_State *L) {
  lsk_http_limits lim = {0, 0, 0, 0, 0};
  lsk_http_field local[MAX_STACK_FIELDS], *fields;
  const char *s;
  size_t len, skip = 0;
  long end, n;
  head_args(L, &s, &len, &lim, 0);
  end = find_head(L, s, len, &skip, &lim, (long long)lua_tointeger(L, 3));
  if (end <= 0) return 2;
  fields = field_space(L, local, lim.max_fields);
  n = lsk_http_parse_fields(s, (size_t)end, fields, &lim);
  if (n < 0) return push_reason(L, n);
  lua_pushinteger(L, lua_tointeger(L, 2) + end);
  push_fields(L, fields, n, 1);
  return 2;
}

/* States of core.http_chunked between calls (left >= 0 is the count of
   chunk data bytes still to come, 0 at a size line). */
#define AT_DATA_END (-1)     /* the CRLF after chunk data */
#define AT_TRAILERS (-2)     /* after the last chunk */

/* core.http_chunked(buf, init, left, max_line, max_out) -> data, next,
   left; or nil, reason. Decodes what is buffered, at most max_out data
   bytes. See docs/core.md. */
static int core_http_chunked(lua_State *L) {
  size_t blen, i, out = 0;
  const char *buf = luaL_checklstring(L, 1, &blen);
  lua_Integer init = luaL_checkinteger(L, 2);
  lua_Integer left = luaL_checkinteger(L, 3);
  lua_Integer max_line = luaL_checkinteger(L, 4);
  lua_Integer max_out = luaL_checkinteger(L, 5);
  luaL_Buffer b;
  luaL_argcheck(L, init >= 1, 2, "index must be >= 1");
  luaL_argcheck(L, left >= AT_TRAILERS, 3, "state must be >= -2");
  luaL_argcheck(L, max_line >= 0 && max_line <= MAX_LIMIT, 4,
                "limit must be 0-2^31");
  luaL_argcheck(L, max_out >= 1, 5, "limit must be >= 1");
  i = (size_t)init - 1;
  if (i > blen) i = blen;
  luaL_buffinit(L, &b);
  while (left != AT_TRAILERS && i < blen && out < (size_t)max_out) {
    if (left > 0) {
      size_t n = blen - i;
      if ((lua_Integer)n > left) n = (size_t)left;
      if (n > (size_t)max_out - out) n = (size_t)max_out - out;
      luaL_addlstring(&b, buf + i, n);
      i += n;
      out += n;
      left -= (lua_Integer)n;
      if (left == 0) left = AT_DATA_END;
    } else if (left == AT_DATA_END) {
      if (blen - i < 2) {
        if (buf[i] != '\r') return push_reason(L, -LSK_HTTP_INVALID_CHUNK_END);
        break;
      }
      if (buf[i] != '\r' || buf[i + 1] != '\n')
        return push_reason(L, -LSK_HTTP_INVALID_CHUNK_END);
      i += 2;
      left = 0;
    } else {
      long long size;
      long r = lsk_http_parse_chunk_size(buf + i, blen - i, (size_t)max_line,
                                         &size);
      if (r < 0) return push_reason(L, r);
      if (r == 0) break;
      i += (size_t)r;
      left = size == 0 ? AT_TRAILERS : (lua_Integer)size;
    }
  }
  luaL_pushresult(&b);
  lua_pushinteger(L, (lua_Integer)i + 1);
  lua_pushinteger(L, left);
  return 3;
}

const luaL_Reg lsk_http_funcs[] = {
  {"http_request", core_http_request},
  {"http_parser", core_http_parser},
  {"http_response", core_http_response},
  {"http_trailers", core_http_trailers},
  {"http_chunked", core_http_chunked},
  {NULL, NULL}
};
