/* lunasock.core: addresses and name resolution. See LICENSE. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>

#include "lunasock.h"

/* BSD sockaddrs carry their own length; SIN6_LEN says the fields exist. */
#if defined(SIN6_LEN)
#define SETLEN4(a) ((a)->sin_len = sizeof(struct sockaddr_in))
#define SETLEN6(a) ((a)->sin6_len = sizeof(struct sockaddr_in6))
#define SETLENUN(a, n) ((a)->sun_len = (unsigned char)(n))
#else
#define SETLEN4(a) ((void)(a))
#define SETLEN6(a) ((void)(a))
#define SETLENUN(a, n) ((void)(a), (void)(n))
#endif

#if !defined(AI_V4MAPPED)
#define AI_V4MAPPED 0
#endif
#if !defined(NI_MAXHOST)
#define NI_MAXHOST 1025
#endif
#if !defined(NI_MAXSERV)
#define NI_MAXSERV 32
#endif

/* Metatable of the box that owns a getaddrinfo result list. */
#define AIBOX "lunasock.addrinfo"

#define SUNPATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))


/*
 * Plain C: no lua_State below this line until the Lua functions.
 */

/* Fills ss with the any-address of an AF_INET or AF_INET6 family. */
static void anyaddr(int family, struct sockaddr_storage *ss,
                    socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_ANY);
    SETLEN4(sin);
    *len = sizeof *sin;
  }
  else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_any;
    SETLEN6(sin6);
    *len = sizeof *sin6;
  }
}

/* Parses a numeric address without a zone; for AF_INET6 an IPv4 literal
   becomes ::ffff:a.b.c.d. Returns 1 on success, 0 if host is not one. */
static int numeric(const char *host, int family, struct sockaddr_storage *ss,
                   socklen_t *len) {
  struct in_addr a4;
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
      return 0;
    sin->sin_family = AF_INET;
    SETLEN4(sin);
    *len = sizeof *sin;
    return 1;
  }
  else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
      if (inet_pton(AF_INET, host, &a4) != 1)
        return 0;
      sin6->sin6_addr.s6_addr[10] = 0xff;  /* ::ffff:0:0/96 */
      sin6->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&sin6->sin6_addr.s6_addr[12], &a4, 4);
    }
    sin6->sin6_family = AF_INET6;
    SETLEN6(sin6);
    *len = sizeof *sin6;
    return 1;
  }
}

/*
 * Resolves host into ss with port 0. For AF_INET and AF_INET6, "*" is the
 * any-address and numeric forms are parsed without the resolver; anything
 * else (names, IPv6 zones, AF_UNSPEC) goes to getaddrinfo with flags, and
 * the first result is taken. A host containing ':' or '%' can only be an
 * IPv6 literal (with a zone), and one of only digits and dots an IPv4
 * one (host names never are), so those never reach DNS. Returns 0 or an
 * EAI_* code, with *err holding errno for EAI_SYSTEM.
 */
static int resolve(const char *host, int family, int socktype, int flags,
                   struct sockaddr_storage *ss, socklen_t *len, int *err) {
  struct addrinfo hints, *res;
  int gai;
  *err = 0;
  if (family == AF_INET || family == AF_INET6) {
    if (strcmp(host, "*") == 0) {
      anyaddr(family, ss, len);
      return 0;
    }
    if (numeric(host, family, ss, len))
      return 0;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_family = family;
  /* only the address is used: keep socktypes the resolver may not know
     (raw, seqpacket) out of the query */
  if (socktype == SOCK_STREAM || socktype == SOCK_DGRAM)
    hints.ai_socktype = socktype;
  hints.ai_flags = flags;
  if (strpbrk(host, ":%") != NULL || host[strspn(host, "0123456789.")] == 0)
    hints.ai_flags |= AI_NUMERICHOST;
  if (family == AF_INET6)
    hints.ai_flags |= AI_V4MAPPED;
  gai = getaddrinfo(host, NULL, &hints, &res);
  if (gai != 0) {
    *err = errno;
    return gai;
  }
  if (res->ai_addrlen > sizeof *ss) {  /* cannot happen for IP */
    freeaddrinfo(res);
    *err = EAFNOSUPPORT;
    return EAI_SYSTEM;
  }
  memset(ss, 0, sizeof *ss);
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static void setport(struct sockaddr_storage *ss, int port) {
  if (ss->ss_family == AF_INET)
    ((struct sockaddr_in *)ss)->sin_port = htons((unsigned short)port);
  else if (ss->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((unsigned short)port);
}

/* Writes the text of an IPv6 address, with "%zone" when scope_id is set,
   into buf (INET6_ADDRSTRLEN + IF_NAMESIZE + 1 bytes at least). */
static void ntop6(const struct sockaddr_in6 *sin6, char *buf, size_t size) {
  char zone[IF_NAMESIZE];
  size_t n;
  if (inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)size) == NULL)
    buf[0] = '\0';
  if (sin6->sin6_scope_id == 0)
    return;
  n = strlen(buf);
  if (if_indextoname(sin6->sin6_scope_id, zone) != NULL)
    snprintf(buf + n, size - n, "%%%s", zone);
  else
    snprintf(buf + n, size - n, "%%%u", (unsigned)sin6->sin6_scope_id);
}


/*
 * sockaddr <-> Lua values
 */

static int checkport(lua_State *L, int idx) {
  lua_Integer port = luaL_checkinteger(L, idx);
  luaL_argcheck(L, 0 <= port && port <= 65535, idx,
                "port out of range (0..65535)");
  return (int)port;
}

static int toinet(lua_State *L, int family, int socktype, int idx,
                  struct sockaddr_storage *ss, socklen_t *len) {
  size_t hlen;
  const char *host = luaL_checklstring(L, idx, &hlen);
  int port = checkport(L, idx + 1);
  int gai, err;
  luaL_argcheck(L, hlen > 0, idx, "empty host (use '*' for any address)");
  luaL_argcheck(L, strlen(host) == hlen, idx, "host contains a zero byte");
  gai = resolve(host, family, socktype, 0, ss, len, &err);
  if (gai != 0)
    return lsk_pushgaierror(L, gai, err);
  setport(ss, port);
  return 0;
}

/* A path, or with a leading "\0" a name in Linux's abstract namespace,
   whose length is then exact; "" gives the unnamed address (autobind). */
static int tounix(lua_State *L, int idx, struct sockaddr_storage *ss,
                  socklen_t *len) {
  struct sockaddr_un *sun = (struct sockaddr_un *)ss;
  size_t plen;
  const char *path = luaL_checklstring(L, idx, &plen);
  int abstract = plen > 0 && path[0] == '\0';
  luaL_argcheck(L, abstract || strlen(path) == plen, idx,
                "unix path contains a zero byte");
  if (plen + !abstract > SUNPATH_MAX) {
    lua_pushfstring(L, "unix socket path too long (%d bytes, at most %d)",
                    (int)plen, (int)(SUNPATH_MAX - 1 + abstract));
    lsk_pushfailure(L, lua_tostring(L, -1), "ENAMETOOLONG");
    lua_remove(L, -4);  /* the message's first copy */
    return 3;
  }
  memset(ss, 0, sizeof *ss);
  sun->sun_family = AF_UNIX;
  memcpy(sun->sun_path, path, plen);
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
                     (plen > 0 && !abstract));  /* the NUL, if a path */
  SETLENUN(sun, *len);
  return 0;
}

int lsk_toaddr(lua_State *L, int family, int socktype, int idx,
               struct sockaddr_storage *ss, socklen_t *len) {
  switch (family) {
    case AF_INET: case AF_INET6:
      return toinet(L, family, socktype, idx, ss, len);
    case AF_UNIX:
      return tounix(L, idx, ss, len);
    default:
      return lsk_pusherror(L, EAFNOSUPPORT, "address");
  }
}

/* Copies what the kernel gave into correctly aligned structs first, and
   reads no byte past len. */
int lsk_pushaddr(lua_State *L, const struct sockaddr *sa, socklen_t len) {
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  sa_family_t family;
  if (sa == NULL ||
      len < offsetof(struct sockaddr, sa_family) + sizeof family) {
    luaL_pushfail(L);
    return 1;
  }
  memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family),
         sizeof family);
  if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    struct sockaddr_in sin;
    memcpy(&sin, sa, sizeof sin);
    if (inet_ntop(AF_INET, &sin.sin_addr, buf, sizeof buf) == NULL)
      buf[0] = '\0';
    lua_pushstring(L, buf);
    lua_pushinteger(L, ntohs(sin.sin_port));
    return 2;
  }
  else if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 sin6;
    memcpy(&sin6, sa, sizeof sin6);
    ntop6(&sin6, buf, sizeof buf);
    lua_pushstring(L, buf);
    lua_pushinteger(L, ntohs(sin6.sin6_port));
    return 2;
  }
  else if (family == AF_UNIX) {
    struct sockaddr_un sun;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t plen = len > off ? len - off : 0;
    if (plen > SUNPATH_MAX)
      plen = SUNPATH_MAX;
    memcpy(&sun, sa, off + plen);
    if (plen > 0 && sun.sun_path[0] != '\0')  /* a path: up to its NUL */
      plen = strnlen(sun.sun_path, plen);
    lua_pushlstring(L, sun.sun_path, plen);
    return 1;
  }
  luaL_pushfail(L);  /* AF_UNSPEC (a disconnected peer), short or foreign */
  return 1;
}


/*
 * core functions
 */

static int aibox_close(lua_State *L) {
  struct addrinfo **box = (struct addrinfo **)luaL_checkudata(L, 1, AIBOX);
  if (*box != NULL) {
    freeaddrinfo(*box);
    *box = NULL;
  }
  return 0;
}

/* Pushes a to-be-closed box for a getaddrinfo result: the list is freed
   when the calling function returns or raises (lauxlib's box idea). */
static struct addrinfo **newaibox(lua_State *L) {
  struct addrinfo **box;
  box = (struct addrinfo **)lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  if (luaL_newmetatable(L, AIBOX)) {
    lua_pushcfunction(L, aibox_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, aibox_close);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  lua_toclose(L, -1);
  return box;
}

/* Reads hints[name] (an int, or through check a name or int), 0 if nil.
   The field is moved to index 3 for check, so that its errors blame the
   hints argument; the table itself stays at index 4. */
static int hintfield(lua_State *L, const char *name,
                     int (*check)(lua_State *, int)) {
  int v = 0;
  if (lua_getfield(L, 4, name) != LUA_TNIL) {
    if (check != NULL) {
      lua_replace(L, 3);
      return check(L, 3);
    }
    else {
      int isnum;
      lua_Integer i = lua_tointegerx(L, -1, &isnum);
      if (!isnum || i < INT_MIN || i > INT_MAX)
        luaL_error(L, "bad hints.%s (integer expected, got %s)", name,
                   isnum ? "an out of range number" : luaL_typename(L, -1));
      v = (int)i;
    }
  }
  lua_pop(L, 1);
  return v;
}

/* Is host an IPv4 or IPv6 literal (needing no lookup)? */
static int isnumeric(const char *host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host, buf) == 1 ||
         inet_pton(AF_INET6, host, buf) == 1;
}

/* Pushes a getaddrinfo result as a list of tables {family, socktype,
   protocol, addr, port, canonname}. */
void lsk_pushaddrinfo(lua_State *L, const struct addrinfo *ai) {
  int i;
  lua_newtable(L);
  for (i = 1; ai != NULL; ai = ai->ai_next, i++) {
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, ai->ai_family);
    lua_setfield(L, -2, "family");
    lua_pushinteger(L, ai->ai_socktype);
    lua_setfield(L, -2, "socktype");
    lua_pushinteger(L, ai->ai_protocol);
    lua_setfield(L, -2, "protocol");
    if (lsk_pushaddr(L, ai->ai_addr, ai->ai_addrlen) == 2)
      lua_setfield(L, -3, "port");  /* entry, host, port */
    lua_setfield(L, -2, "addr");
    if (ai->ai_canonname != NULL) {
      lua_pushstring(L, ai->ai_canonname);
      lua_setfield(L, -2, "canonname");
    }
    lua_rawseti(L, -2, i);
  }
}

static const char *const hint_fields[] = {"family", "socktype", "protocol",
                                          "flags", NULL};

/* getaddrinfo(host, service[, hints]): host "*" means the wildcard
   (NULL with AI_PASSIVE); service may be an integer port. */
static int core_getaddrinfo(lua_State *L) {
  const char *host = luaL_optstring(L, 1, NULL);
  const char *serv = NULL;
  char port[8];
  struct addrinfo hints, **box;
  int gai, err;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    snprintf(port, sizeof port, "%d", checkport(L, 2));
    serv = port;
  }
  else
    serv = luaL_optstring(L, 2, NULL);
  luaL_argcheck(L, host != NULL || serv != NULL, 1,
                "host and service cannot both be nil");
  memset(&hints, 0, sizeof hints);
  lua_settop(L, 3);
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lsk_checkfields(L, 3, hint_fields);
    lua_pushvalue(L, 3);  /* 4: hints */
    hints.ai_family = hintfield(L, "family", lsk_checkfamily);
    hints.ai_socktype = hintfield(L, "socktype", lsk_checktype);
    hints.ai_protocol = hintfield(L, "protocol", NULL);
    hints.ai_flags = hintfield(L, "flags", NULL);
  }
  if (host != NULL && strcmp(host, "*") == 0) {
    host = NULL;
    hints.ai_flags |= AI_PASSIVE;
  }
  lua_settop(L, 3);
  /* a name to look up, inside a loop task: off the loop thread */
  if (host != NULL && !(hints.ai_flags & AI_NUMERICHOST) && !isnumeric(host)
      && lua_isyieldable(L) && lsk_isloopthread(L))
    return lsk_getaddrinfo_async(L, host, serv, &hints);
  box = newaibox(L);  /* 4 */
  gai = getaddrinfo(host, serv, &hints, box);
  err = errno;
  if (gai != 0)
    return lsk_pushgaierror(L, gai, err);
  lsk_pushaddrinfo(L, *box);
  return 1;  /* the box at 4 is closed on return */
}

/* getnameinfo(addr, port[, flags]): addr is a numeric IPv4 or IPv6
   address (a zone allowed); a name is EAI_NONAME. */
static int core_getnameinfo(lua_State *L) {
  size_t alen;
  const char *addr = luaL_checklstring(L, 1, &alen);
  int port = checkport(L, 2);
  lua_Integer flags = luaL_optinteger(L, 3, 0);
  struct sockaddr_storage ss;
  socklen_t len;
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  int gai, err;
  luaL_argcheck(L, strlen(addr) == alen, 1, "address contains a zero byte");
  luaL_argcheck(L, 0 <= flags && flags <= INT_MAX, 3,
                "flags out of range (an or of NI_* constants)");
  gai = resolve(addr, AF_UNSPEC, 0, AI_NUMERICHOST, &ss, &len, &err);
  if (gai != 0)
    return lsk_pushgaierror(L, gai, err);
  setport(&ss, port);
  gai = getnameinfo((struct sockaddr *)&ss, len, host, sizeof host,
                    serv, sizeof serv, (int)flags);
  err = errno;
  if (gai != 0)
    return lsk_pushgaierror(L, gai, err);
  lua_pushstring(L, host);
  lua_pushstring(L, serv);
  return 2;
}

static int core_gethostname(lua_State *L) {
  char name[256 + 1];  /* POSIX caps host names at 255 bytes */
  if (gethostname(name, sizeof name - 1) != 0)
    return lsk_pusherror(L, errno, "gethostname");
  name[sizeof name - 1] = '\0';
  lua_pushstring(L, name);
  return 1;
}

static int checkipfamily(lua_State *L, int idx) {
  int family = lsk_checkfamily(L, idx);
  luaL_argcheck(L, family == AF_INET || family == AF_INET6, idx,
                "family must be inet or inet6");
  return family;
}

/* inet_pton(family, text) -> 4 or 16 bytes; bad text is nil, msg, EINVAL */
static int core_inet_pton(lua_State *L) {
  int family = checkipfamily(L, 1);
  size_t len;
  const char *text = luaL_checklstring(L, 2, &len);
  unsigned char bytes[sizeof(struct in6_addr)];
  if (strlen(text) != len || inet_pton(family, text, bytes) != 1) {
    lua_pushfstring(L, "invalid %s address", family == AF_INET ? "IPv4"
                                                                 : "IPv6");
    lsk_pushfailure(L, lua_tostring(L, -1), "EINVAL");
    lua_remove(L, -4);  /* the message's first copy */
    return 3;
  }
  lua_pushlstring(L, (const char *)bytes, family == AF_INET ? 4 : 16);
  return 1;
}

/* inet_ntop(family, bytes): bytes must be 4 (inet) or 16 (inet6) long */
static int core_inet_ntop(lua_State *L) {
  int family = checkipfamily(L, 1);
  size_t len, want = family == AF_INET ? 4 : 16;
  const char *bytes = luaL_checklstring(L, 2, &len);
  char text[INET6_ADDRSTRLEN];
  if (len != want)
    return luaL_argerror(L, 2, lua_pushfstring(L,
                         "expected %d bytes for %s, got %d", (int)want,
                         family == AF_INET ? "inet" : "inet6", (int)len));
  if (inet_ntop(family, bytes, text, sizeof text) == NULL)
    return lsk_pusherror(L, errno, "inet_ntop");
  lua_pushstring(L, text);
  return 1;
}

const luaL_Reg lsk_addr_funcs[] = {
  {"getaddrinfo", core_getaddrinfo},
  {"getnameinfo", core_getnameinfo},
  {"gethostname", core_gethostname},
  {"inet_pton", core_inet_pton},
  {"inet_ntop", core_inet_ntop},
  {NULL, NULL}
};
