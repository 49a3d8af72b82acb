/* lunasock.core: the HTTP/1.1 wire grammar (no Lua). See LICENSE. */
#ifndef LUNASOCK_HTTP_PARSE_H
#define LUNASOCK_HTTP_PARSE_H

#include <stddef.h>

/*
 * One grammar for every HTTP/1.1 message head lunasock reads: request
 * heads (the server), response heads (the client), trailer sections and
 * chunk-size lines (both). Plain C on a byte range, in the shape of
 * picohttpparser: a parse returns the bytes it consumed (> 0), 0 for
 * "need more", or a negative reason code naming what is wrong (nginx's
 * NGX_HTTP_PARSE_INVALID_*, llhttp's error codes). Syntax only: which
 * methods, versions and framing a program accepts is decided by its
 * caller (lunasock.http), which maps reasons to statuses.
 */

enum lsk_http_reason {
  LSK_HTTP_BARE_LF = 1,        /* a LF without a CR before it */
  LSK_HTTP_BARE_CR,            /* a CR not followed by LF */
  LSK_HTTP_INVALID_METHOD,     /* method not a token */
  LSK_HTTP_INVALID_TARGET,     /* empty target, or a byte outside %x21-7E */
  LSK_HTTP_INVALID_VERSION,    /* not HTTP/DIGIT.DIGIT, or junk after it */
  LSK_HTTP_UNSUPPORTED_VERSION,  /* HTTP/x.y with x other than 1 */
  LSK_HTTP_LINE_TOO_LONG,      /* request or status line past its limit */
  LSK_HTTP_HEAD_TOO_LARGE,     /* head (or trailer section) past its limit */
  LSK_HTTP_TOO_MANY_FIELDS,    /* more field lines than allowed */
  LSK_HTTP_OBS_FOLD,           /* a field line starting with SP or HTAB */
  LSK_HTTP_INVALID_FIELD_NAME, /* empty name, no colon, a non-token byte */
  LSK_HTTP_INVALID_FIELD_VALUE,  /* a control character or DEL in a value */
  LSK_HTTP_INVALID_STATUS_LINE,  /* a response's status line */
  LSK_HTTP_INVALID_CHUNK_SIZE, /* not 1*HEXDIG */
  LSK_HTTP_CHUNK_SIZE_OVERFLOW,  /* more than 15 significant hex digits */
  LSK_HTTP_INVALID_CHUNK_EXT,  /* a malformed chunk extension */
  LSK_HTTP_INVALID_CHUNK_END,  /* chunk data not followed by CRLF */
  LSK_HTTP_NREASONS
};

/* Whether v[0..n) has only bytes a Host field may have (RFC 3986
   reg-name, IP-literal, port). */
int lsk_http_valid_host(const char *v, size_t n);

/* The reason's name ("BARE_LF", ...), for Lua. */
const char *lsk_http_reason_name(int reason);

typedef struct lsk_http_field {
  const char *name;     /* NULL for an obs-fold continuation (lenient) */
  size_t name_len;
  const char *value;    /* without the whitespace around it */
  size_t value_len;
} lsk_http_field;

/* Limits and leniency of one parse. */
typedef struct lsk_http_limits {
  size_t max_line;      /* request or status line, without CRLF */
  size_t max_head;      /* the whole head, CRLF CRLF included */
  size_t max_fields;    /* field lines (capacity of the fields array) */
  int lenient;          /* a response: LF alone ends a line, obs-fold kept */
  int skip_empty;       /* a request: empty lines before it are skipped */
} lsk_http_limits;

typedef struct lsk_http_request {
  const char *method, *target;
  size_t method_len, target_len;
  int major, minor;
} lsk_http_request;

typedef struct lsk_http_response {
  int major, minor, status;
  const char *reason;
  size_t reason_len;
} lsk_http_response;

/* Where a head could end: scans s[0..len) for the empty line that ends
   a head starting at s[0]. Returns its end (the offset just past it), 0
   when it has not come (*state, 0 on the first call, then records how far
   the scan got, so that a head arriving byte by byte is scanned once;
   max_head must be below 2^31), or a
   negative reason: BARE_LF (strict), LINE_TOO_LONG when the first line
   is past max_line, HEAD_TOO_LARGE past max_head. Empty lines (CRLF)
   before the head are part of it; *skip is set to their length. */
long lsk_http_head_end(const char *s, size_t len, long long *state,
                       size_t *skip, const lsk_http_limits *lim);

/* A complete request head s[0..len) (as found by lsk_http_head_end,
   leading empty lines skipped): the request line and up to
   lim->max_fields fields. Returns the number of fields, or a negative
   reason. */
long lsk_http_parse_request(const char *s, size_t len, lsk_http_request *req,
                            lsk_http_field *fields, const lsk_http_limits *lim);

/* A complete response head s[0..len): the status line and the fields. */
long lsk_http_parse_response(const char *s, size_t len,
                             lsk_http_response *res, lsk_http_field *fields,
                             const lsk_http_limits *lim);

/* Field lines s[0..len) up to and including the empty line that ends
   them (a header or trailer section). Returns the count or a reason. */
long lsk_http_parse_fields(const char *s, size_t len, lsk_http_field *fields,
                           const lsk_http_limits *lim);

/* A chunk-size line at s[0..len): 1*HEXDIG, chunk extensions (checked
   and ignored), CRLF. Returns the bytes consumed with *size set, 0 when
   no line end has come (LINE_TOO_LONG past max_line bytes), or a
   negative reason. */
long lsk_http_parse_chunk_size(const char *s, size_t len, size_t max_line,
                               long long *size);

#endif
