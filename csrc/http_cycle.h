/* lunasock.core: what http.c's parser and http_cycle.c share. See LICENSE. */
#ifndef LUNASOCK_HTTP_CYCLE_H
#define LUNASOCK_HTTP_CYCLE_H

#include "lunasock.h"

/*
 * core.http_parser makes two closures over one list of upvalues: parse
 * (http.c), a server's reader of request heads, and cycle (http_cycle.c),
 * the server's common request/response cycle, which reads heads through
 * the same code. Both carry every upvalue below (parse ignores the
 * cycle's), so that lsk_http_parse_head finds its own at the same indexes
 * whichever of the two runs.
 */
enum {
  /* 1-3: the core's own upvalues (lunasock.h: LSK_UV_*), which the
     socket checks and the wait of a read need */
  P_LIMITS = LSK_NUPVALUES + 1, P_METHODS, P_META, P_V10, P_V11,
  P_KMETHOD, P_KPATH, P_KVERSION, P_KKEEP,
  P_LASTM, P_LASTT, P_LASTH,   /* the method, target and head made last */
  /* the cycle's: response.whole, the response module (its SERVER), the
     answers kept (a C cache, and a table anchoring its strings), and the
     field names it reads and writes */
  P_WHOLE, P_RESP, P_CACHE, P_ANCHOR,
  P_KDEADLINE, P_KSPECIAL, P_KCLOSING, P_KTIMED, P_KNOW, P_KCROWDED,
  P_KSERVER, P_KBUF, P_KPOS,
  P_NUP = P_KPOS
};

/* Pushes upvalue k of the running closure (a key, a string kept). */
#define P_PUSH(k) lua_pushvalue(L, lua_upvalueindex(k))

/* The field names of P_KMETHOD.. P_KKEEP, then P_KDEADLINE .. P_KPOS. */
#define LSK_HTTP_PARSER_KEYS "method", "path", "version", "keep_alive"
#define LSK_HTTP_CYCLE_KEYS "deadline", "special", "closing", "timed", \
  "now", "crowded", "SERVER", "buf", "pos"

/* http.c: parses the head at init of the string at index bi with the
   running closure's parser; pushes parse's results (conn: the value at
   index ci) and returns their count (see core.http_parser). For a
   request made, *kind tells LSK_HTTP_FAST: HTTP/1.1, not HEAD (what
   write_head's fast path answers); LSK_HTTP_LEAN: made without its
   version and keep_alive fields, as asked (lean) for HTTP/1.1 (the
   request's __index answers them: "1.1", true). */
#define LSK_HTTP_FAST 1
#define LSK_HTTP_LEAN 2
int lsk_http_parse_head(lua_State *L, int bi, lua_Integer init, int ci,
                        int lean, int *kind);
/* http.c: pushes the string s: the one in the running closure's
   upvalue k when it has the same bytes (a server's requests mostly
   repeat their method, their path, often their whole head: no new
   string then), else a new one, kept there for the next. */
void lsk_http_push_again(lua_State *L, int k, const char *s, size_t len);

/* http.c: sets version and keep_alive of the request at index t, made
   from an HTTP/1.minor head (the running closure's strings). */
void lsk_http_set_version(lua_State *L, int t, int minor);

/* http_cycle.c: the cycle closure's function, and the size of the C
   cache it keeps in P_CACHE. */
int lsk_http_cycle(lua_State *L);
size_t lsk_http_cycle_cache_size(void);

#endif
