/* lunasock.core: the HTTP/1.1 wire grammar. See LICENSE. */
#include <string.h>

#include "http_parse.h"

/*
 * RFC 9112 (message syntax) and RFC 9110 section 5 (fields), strictly for
 * what a server reads and leniently, where RFC 9112 allows a user agent
 * to be, for responses: a LF alone ends a line (2.2) and obs-fold is
 * kept as a continuation (5.2). Every routine is one forward pass over
 * its bytes; nothing backtracks further than the whitespace it skipped.
 */

static const char *const reason_names[LSK_HTTP_NREASONS] = {
  "OK", "BARE_LF", "BARE_CR", "INVALID_METHOD", "INVALID_TARGET",
  "INVALID_VERSION", "UNSUPPORTED_VERSION", "LINE_TOO_LONG",
  "HEAD_TOO_LARGE", "TOO_MANY_FIELDS", "OBS_FOLD", "INVALID_FIELD_NAME",
  "INVALID_FIELD_VALUE", "INVALID_STATUS_LINE", "INVALID_CHUNK_SIZE",
  "CHUNK_SIZE_OVERFLOW", "INVALID_CHUNK_EXT", "INVALID_CHUNK_END",
};

const char *lsk_http_reason_name(int reason) {
  if (reason < 1 || reason >= LSK_HTTP_NREASONS) return "INVALID";
  return reason_names[reason];
}

/* Byte classes: T a tchar (RFC 9110 5.6.2: "!#$%&'*+-.^_`|~", digits,
   letters); H a byte of a Host value (RFC 3986 reg-name, IP-literal and
   port: letters, digits and ".:-_~%!$&'()*+,;=[]"). */
#define T 1
#define H 2
static const unsigned char cclass[256] = {
  ['!'] = T | H, ['#'] = T, ['$'] = T | H, ['%'] = T | H, ['&'] = T | H,
  ['\''] = T | H, ['*'] = T | H, ['+'] = T | H, ['-'] = T | H,
  ['.'] = T | H, ['^'] = T, ['_'] = T | H, ['`'] = T, ['|'] = T,
  ['~'] = T | H, ['('] = H, [')'] = H, [','] = H, [':'] = H, [';'] = H,
  ['='] = H, ['['] = H, [']'] = H,
  ['0'] = T | H, ['1'] = T | H, ['2'] = T | H, ['3'] = T | H,
  ['4'] = T | H, ['5'] = T | H, ['6'] = T | H, ['7'] = T | H,
  ['8'] = T | H, ['9'] = T | H,
  ['A'] = T | H, ['B'] = T | H, ['C'] = T | H, ['D'] = T | H, ['E'] = T | H,
  ['F'] = T | H, ['G'] = T | H, ['H'] = T | H, ['I'] = T | H, ['J'] = T | H,
  ['K'] = T | H, ['L'] = T | H, ['M'] = T | H, ['N'] = T | H, ['O'] = T | H,
  ['P'] = T | H, ['Q'] = T | H, ['R'] = T | H, ['S'] = T | H, ['T'] = T | H,
  ['U'] = T | H, ['V'] = T | H, ['W'] = T | H, ['X'] = T | H, ['Y'] = T | H,
  ['Z'] = T | H,
  ['a'] = T | H, ['b'] = T | H, ['c'] = T | H, ['d'] = T | H, ['e'] = T | H,
  ['f'] = T | H, ['g'] = T | H, ['h'] = T | H, ['i'] = T | H, ['j'] = T | H,
  ['k'] = T | H, ['l'] = T | H, ['m'] = T | H, ['n'] = T | H, ['o'] = T | H,
  ['p'] = T | H, ['q'] = T | H, ['r'] = T | H, ['s'] = T | H, ['t'] = T | H,
  ['u'] = T | H, ['v'] = T | H, ['w'] = T | H, ['x'] = T | H, ['y'] = T | H,
  ['z'] = T | H,
};

int lsk_http_valid_host(const char *v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (!(cclass[(unsigned char)v[i]] & H)) return 0;
  return 1;
}

#define TCHAR(c) (cclass[(unsigned char)(c)] & T)
/* A field value byte: HTAB, SP, VCHAR or obs-text (RFC 9110 5.5). */
#define VALUECHAR(c) ((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f))
#define OWS(c) ((c) == ' ' || (c) == '\t')
#define DIGIT(c) ((c) >= '0' && (c) <= '9')

/* Where the head ends. The scan state *state is opaque to the caller: 0
   to start, then what the last call left. Negative: -k, k bytes of empty
   lines skipped so far (a request's leading CRLFs) and nothing else
   seen; positive: (k << 32) | p, k bytes skipped and memchr to resume at
   p (a line end is recognised by looking back from its LF, so a scan
   never needs to back up). */
long lsk_http_head_end(const char *s, size_t len, long long *state,
                       size_t *skip, const lsk_http_limits *lim) {
  size_t i, first;
  const char *p;
  int strict = !lim->lenient;
  if (*state <= 0) {                 /* still at the empty lines */
    /* a state from another buffer may point past this one: clamp it
       before negating (no overflow, no scan past len) */
    first = *state < -(long long)len ? len : (size_t)(-*state);
    if (lim->skip_empty)
      while (first + 1 < len && s[first] == '\r' && s[first + 1] == '\n')
        first += 2;
    i = first;
  } else {
    first = (size_t)(*state >> 32);
    i = (size_t)(*state & 0xffffffff);
    if (first > len) first = len;
    if (i > len) i = len;
  }
  if (first > lim->max_head) return -LSK_HTTP_HEAD_TOO_LARGE;
  *skip = first;
  while ((p = memchr(s + i, '\n', len - i)) != NULL) {
    size_t at = (size_t)(p - s);
    if (at > first && s[at - 1] == '\r') {
      if (at - 1 == first || s[at - 2] == '\n') {   /* an empty line */
        if (at + 1 > lim->max_head + 4) return -LSK_HTTP_HEAD_TOO_LARGE;
        return (long)(at + 1);
      }
    } else if (strict) {
      return -LSK_HTTP_BARE_LF;
    } else if (at == first || s[at - 1] == '\n'
               || (at >= first + 2 && s[at - 1] == '\r' && s[at - 2] == '\n')) {
      if (at + 1 > lim->max_head + 4) return -LSK_HTTP_HEAD_TOO_LARGE;
      return (long)(at + 1);
    }
    i = at + 1;
  }
  /* no end yet: is the first line already too long? (it has no LF when
     nothing was scanned past first without finding one) */
  if (len - first > lim->max_line + 1
      && memchr(s + first, '\n', lim->max_line + 2) == NULL)
    return -LSK_HTTP_LINE_TOO_LONG;
  if (len > lim->max_head + 3) return -LSK_HTTP_HEAD_TOO_LARGE;
  if (len == first || (len == first + 1 && s[first] == '\r'))
    *state = -(long long)first;      /* maybe more empty lines to come */
  else
    *state = ((long long)first << 32) | (long long)len;
  return 0;
}

/* The offset of the LF ending the line that starts at s[i] (len when
   there is none). */
static size_t line_end(const char *s, size_t len, size_t i) {
  const char *p = memchr(s + i, '\n', len - i);
  return p ? (size_t)(p - s) : len;
}

/* Field lines from s[i], up to the empty line that ends them. */
static long fields_from(const char *s, size_t len, size_t i,
                        lsk_http_field *fields, const lsk_http_limits *lim) {
  size_t n = 0;
  int strict = !lim->lenient;
  while (i < len) {
    size_t name0 = i, colon = i, v0, v1;
    unsigned char c = (unsigned char)s[i];
    lsk_http_field *f;
    if (c == '\r') {
      if (i + 1 < len && s[i + 1] == '\n') return (long)n;
      return -LSK_HTTP_BARE_CR;
    }
    if (c == '\n') return strict ? -LSK_HTTP_BARE_LF : (long)n;
    if (OWS(c)) {
      if (strict) return -LSK_HTTP_OBS_FOLD;
      if (n == 0) return -LSK_HTTP_INVALID_FIELD_NAME;
    } else {
      while (i < len && TCHAR(s[i])) i++;
      if (i == name0 || i >= len || s[i] != ':')
        return -LSK_HTTP_INVALID_FIELD_NAME;
      colon = i++;
    }
    while (i < len && OWS(s[i])) i++;
    v0 = i;
    while (i < len && VALUECHAR((unsigned char)s[i])) i++;
    if (i >= len) return -LSK_HTTP_INVALID_FIELD_VALUE;
    if (s[i] == '\r') {
      if (i + 1 >= len || s[i + 1] != '\n') return -LSK_HTTP_BARE_CR;
    } else if (s[i] != '\n') {
      return -LSK_HTTP_INVALID_FIELD_VALUE;
    } else if (strict) {
      return -LSK_HTTP_BARE_LF;
    }
    v1 = i;
    while (v1 > v0 && OWS(s[v1 - 1])) v1--;
    if (n == lim->max_fields) return -LSK_HTTP_TOO_MANY_FIELDS;
    f = &fields[n++];
    if (OWS((unsigned char)s[name0])) {
      f->name = NULL;
      f->name_len = 0;
    } else {
      f->name = s + name0;
      f->name_len = colon - name0;
    }
    f->value = s + v0;
    f->value_len = v1 - v0;
    i += s[i] == '\r' ? 2 : 1;
  }
  return -LSK_HTTP_HEAD_TOO_LARGE;   /* unreachable for a complete head */
}

long lsk_http_parse_fields(const char *s, size_t len, lsk_http_field *fields,
                           const lsk_http_limits *lim) {
  return fields_from(s, len, 0, fields, lim);
}

long lsk_http_parse_request(const char *s, size_t len, lsk_http_request *req,
                            lsk_http_field *fields, const lsk_http_limits *lim) {
  size_t i = 0, end = line_end(s, len, 0), v;
  if (end > lim->max_line + 1) return -LSK_HTTP_LINE_TOO_LONG;
  if (end >= len || end == 0 || s[end - 1] != '\r') return -LSK_HTTP_BARE_LF;
  end--;                                          /* at the CR */
  while (i < end && TCHAR(s[i])) i++;
  if (i == 0 || s[i] != ' ') return -LSK_HTTP_INVALID_METHOD;
  req->method = s;
  req->method_len = i;
  v = ++i;
  while (i < end && (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f)
    i++;
  if (i == v || s[i] != ' ') return -LSK_HTTP_INVALID_TARGET;
  req->target = s + v;
  req->target_len = i - v;
  i++;
  if (end - i != 8 || memcmp(s + i, "HTTP/", 5) != 0 || !DIGIT(s[i + 5])
      || s[i + 6] != '.' || !DIGIT(s[i + 7]))
    return -LSK_HTTP_INVALID_VERSION;
  req->major = s[i + 5] - '0';
  req->minor = s[i + 7] - '0';
  if (req->major != 1) return -LSK_HTTP_UNSUPPORTED_VERSION;
  return fields_from(s, len, end + 2, fields, lim);
}

long lsk_http_parse_response(const char *s, size_t len,
                             lsk_http_response *res, lsk_http_field *fields,
                             const lsk_http_limits *lim) {
  size_t i, end = line_end(s, len, 0), next;
  if (end >= len) return -LSK_HTTP_INVALID_STATUS_LINE;
  next = end + 1;
  if (end > 0 && s[end - 1] == '\r') end--;
  if (end > lim->max_line) return -LSK_HTTP_LINE_TOO_LONG;
  if (end < 12 || memcmp(s, "HTTP/", 5) != 0 || !DIGIT(s[5]) || s[6] != '.'
      || !DIGIT(s[7]) || s[8] != ' ' || s[9] < '1' || s[9] > '5'
      || !DIGIT(s[10]) || !DIGIT(s[11]) || (end > 12 && s[12] != ' '))
    return -LSK_HTTP_INVALID_STATUS_LINE;
  for (i = 13; i < end; i++)
    if (!VALUECHAR((unsigned char)s[i])) return -LSK_HTTP_INVALID_STATUS_LINE;
  res->major = s[5] - '0';
  res->minor = s[7] - '0';
  res->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
  res->reason = s + (end > 12 ? 13 : 12);
  res->reason_len = end > 12 ? end - 13 : 0;
  if (res->major != 1) return -LSK_HTTP_UNSUPPORTED_VERSION;
  return fields_from(s, len, next, fields, lim);
}

/* quoted-string (RFC 9110 5.6.4) from the opening quote at s[i]; returns
   the offset past the closing quote, or 0 when malformed. */
static size_t quoted(const char *s, size_t end, size_t i) {
  for (i++; i < end; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (++i >= end) return 0;
      c = (unsigned char)s[i];
    }
    if (!VALUECHAR(c)) return 0;
  }
  return 0;
}

/* chunk-ext (RFC 9112 7.1.1) over s[i..end):
   *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) */
static int valid_ext(const char *s, size_t i, size_t end) {
  while (i < end) {
    size_t t;
    while (i < end && OWS(s[i])) i++;
    if (i >= end || s[i] != ';') return 0;
    i++;
    while (i < end && OWS(s[i])) i++;
    for (t = i; i < end && TCHAR(s[i]); i++) {}
    if (i == t) return 0;
    t = i;
    while (i < end && OWS(s[i])) i++;
    if (i >= end || s[i] != '=') {
      i = t;                         /* no value: BWS belongs to the next */
      continue;
    }
    i++;
    while (i < end && OWS(s[i])) i++;
    if (i < end && s[i] == '"') {
      i = quoted(s, end, i);
      if (i == 0) return 0;
    } else {
      for (t = i; i < end && TCHAR(s[i]); i++) {}
      if (i == t) return 0;
    }
  }
  return 1;
}

long lsk_http_parse_chunk_size(const char *s, size_t len, size_t max_line,
                               long long *size) {
  const char *p = memchr(s, '\n', len);
  size_t end, i = 0, digits = 0;
  long long n = 0;
  if (p == NULL) return len > max_line + 1 ? -LSK_HTTP_LINE_TOO_LONG : 0;
  end = (size_t)(p - s);
  if (end == 0 || s[end - 1] != '\r') return -LSK_HTTP_BARE_LF;
  end--;
  if (end > max_line) return -LSK_HTTP_LINE_TOO_LONG;
  for (; i < end; i++) {
    unsigned char c = (unsigned char)s[i];
    int d;
    if (DIGIT(c)) d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else break;
    if (n > 0 || d > 0) digits++;
    if (digits > 15) return -LSK_HTTP_CHUNK_SIZE_OVERFLOW;
    n = n * 16 + d;
  }
  if (i == 0) return -LSK_HTTP_INVALID_CHUNK_SIZE;
  if (i < end && !valid_ext(s, i, end)) {
    /* a byte that is neither a hex digit nor the start of an extension
       ("5x", "0x5") makes the size invalid, not the extension */
    size_t j = i;
    while (j < end && OWS(s[j])) j++;
    return j < end && s[j] == ';' ? -LSK_HTTP_INVALID_CHUNK_EXT
                                  : -LSK_HTTP_INVALID_CHUNK_SIZE;
  }
  *size = n;
  return (long)(end + 2);
}
