/* lunasock.core: splitting an HTTP/1.1 request head. See LICENSE. */
#include <string.h>

#include "lunasock.h"

/*
 * core.http_head does the byte work of lunasock.http's request parser:
 * it finds where a head ends and splits the request line and the fields
 * of the common, strictly well-formed head. It decides nothing about
 * HTTP itself: whatever falls outside the strict form below is handed
 * back (false) for lunasock.http.parse, the source of truth, to accept or
 * reject with a status. The split is plain C on a byte range; only
 * pushing the results needs the lua_State.
 */

/* tchar (RFC 9110 5.6.2): "!#$%&'*+-.^_`|~", digits and letters */
static const unsigned char tchar[256] = {
  ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
  ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
  ['`'] = 1, ['|'] = 1, ['~'] = 1,
  ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
  ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
  ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
  ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
  ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
  ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
  ['Y'] = 1, ['Z'] = 1,
  ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
  ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
  ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
  ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
  ['y'] = 1, ['z'] = 1,
};

/* A field value byte: HTAB, SP, VCHAR or obs-text (no CR, LF, NUL,
   other controls or DEL). */
#define VALUECHAR(c) ((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f))

#define MAX_NAME 256   /* longer names go to the Lua parser */

enum { HEAD_MORE, HEAD_TOOBIG, HEAD_BARELF, HEAD_FOUND };

/* Finds the end of the head in s[0..len): skips empty lines (CRLF) before
   it, then looks for CRLF CRLF. On HEAD_FOUND, *first is the offset of
   the head's first byte and *end that of the CRLF CRLF. A LF without a
   CR before it, before any end, is HEAD_BARELF; more than limit bytes
   without an end (or a head longer than limit) is HEAD_TOOBIG. */
static int find_end(const char *s, size_t len, size_t limit,
                    size_t *first, size_t *end) {
  size_t i = 0;
  const char *p;
  while (i + 1 < len && s[i] == '\r' && s[i + 1] == '\n') i += 2;
  *first = i;
  while ((p = memchr(s + i, '\n', len - i)) != NULL) {
    size_t at = (size_t)(p - s);
    if (at == 0 || s[at - 1] != '\r') return HEAD_BARELF;
    if (at >= *first + 3 && s[at - 2] == '\n') {   /* ...\r\n\r\n */
      if (at - 3 > limit) return HEAD_TOOBIG;
      *end = at - 3;
      return HEAD_FOUND;
    }
    i = at + 1;
  }
  return len > limit ? HEAD_TOOBIG : HEAD_MORE;
}

/* Splits the strict form of head s[0..len) (the head without its final
   CRLF CRLF): "METHOD SP target SP HTTP/1.d" with an upper-case method,
   a target of %x21-7E, d 0 or 1; then CRLF name ":" OWS value per field,
   name tchars, value VALUECHARs with trailing OWS dropped. Names are
   pushed lower-cased into fields[1..2n] with their values. Returns n, or
   -1 when s is not in that form (nothing is pushed then but what the
   caller drops). Stack: fields at index fi. */
static int split_head(lua_State *L, const char *s, size_t len, int fi) {
  size_t i = 0, m, t0, t1;
  int n = 0;
  char name[MAX_NAME];
  while (i < len && s[i] >= 'A' && s[i] <= 'Z') i++;
  m = i;
  if (m == 0 || i >= len || s[i] != ' ') return -1;
  t0 = ++i;
  while (i < len && (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f) i++;
  t1 = i;
  if (t1 == t0 || len - i < 9 || s[i] != ' '
      || memcmp(s + i + 1, "HTTP/1.", 7) != 0
      || (s[i + 8] != '0' && s[i + 8] != '1'))
    return -1;
  i += 9;
  if (i != len && (s[i] != '\r' || i + 1 >= len || s[i + 1] != '\n'))
    return -1;
  lua_pushlstring(L, s, m);
  lua_pushlstring(L, s + t0, t1 - t0);
  lua_pushlstring(L, s + i - 1, 1);
  while (i < len) {          /* at the CRLF before a field */
    size_t k, v0, v1;
    i += 2;
    for (k = 0; i < len && tchar[(unsigned char)s[i]]; i++, k++) {
      unsigned char c = (unsigned char)s[i];
      if (k == MAX_NAME) return -1;
      name[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    if (k == 0 || i >= len || s[i] != ':') return -1;
    i++;
    while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
    v0 = i;
    while (i < len && VALUECHAR((unsigned char)s[i])) i++;
    if (i < len && (s[i] != '\r' || i + 1 >= len || s[i + 1] != '\n'))
      return -1;
    v1 = i;
    while (v1 > v0 && (s[v1 - 1] == ' ' || s[v1 - 1] == '\t')) v1--;
    lua_pushlstring(L, name, k);
    lua_rawseti(L, fi, 2 * n + 1);
    lua_pushlstring(L, s + v0, v1 - v0);
    lua_rawseti(L, fi, 2 * n + 2);
    n++;
  }
  return n;
}

/* core.http_head(buf, init, limit, fields) -> see docs/core.md */
static int core_http_head(lua_State *L) {
  size_t blen, first, end;
  const char *buf = luaL_checklstring(L, 1, &blen);
  lua_Integer init = luaL_checkinteger(L, 2);
  lua_Integer limit = luaL_checkinteger(L, 3);
  const char *s;
  size_t len;
  int n;
  luaL_checktype(L, 4, LUA_TTABLE);
  luaL_argcheck(L, init >= 1, 2, "index must be >= 1");
  luaL_argcheck(L, limit >= 0, 3, "limit must be >= 0");
  lua_settop(L, 4);
  if ((size_t)init > blen) {
    luaL_pushfail(L);
    return 1;
  }
  s = buf + init - 1;
  len = blen - (size_t)(init - 1);
  switch (find_end(s, len, (size_t)limit, &first, &end)) {
  case HEAD_MORE:
    luaL_pushfail(L);
    return 1;
  case HEAD_TOOBIG:
    luaL_pushfail(L);
    lua_pushliteral(L, "EMSGSIZE");
    return 2;
  case HEAD_BARELF:
    luaL_pushfail(L);
    lua_pushliteral(L, "EPROTO");
    return 2;
  default:
    break;
  }
  lua_pushinteger(L, init + (lua_Integer)end + 4);      /* 5: stop */
  n = split_head(L, s + first, end - first, 4);
  if (n < 0) {
    lua_settop(L, 4);
    lua_pushboolean(L, 0);
    lua_pushinteger(L, init + (lua_Integer)first);
    lua_pushinteger(L, init + (lua_Integer)end - 1);
    return 3;
  }
  lua_pushinteger(L, n);
  return 5;
}

const luaL_Reg lsk_http_funcs[] = {
  {"http_head", core_http_head},
  {NULL, NULL}
};
