/* lunasock.core: the socket userdata. See LICENSE. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lunasock.h"

#include <lualib.h>

/* Platform shims: where SOCK_CLOEXEC/SOCK_NONBLOCK and accept4 are missing,
   fcntl does the same job right after the call. */
#if !defined(SOCK_CLOEXEC)
#define SOCK_CLOEXEC 0
#define SOCK_NONBLOCK 0
#define LSK_NO_SOCK_FLAGS 1
#endif
#if !defined(__linux__) && !defined(__FreeBSD__) && !defined(__NetBSD__) \
    && !defined(__OpenBSD__) && !defined(__DragonFly__)
#define LSK_NO_ACCEPT4 1
#endif

static const char *const family_names[] = {"unspec", "inet", "inet6", "unix",
                                           NULL};
static const int family_values[] = {AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX};
static const char *const type_names[] = {"stream", "dgram", "raw",
                                         "seqpacket", "rdm", NULL};
static const int type_values[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW,
                                  SOCK_SEQPACKET, SOCK_RDM};

static const char *name_of(int v, const int *values,
                           const char *const *names) {
  int i;
  for (i = 0; names[i] != NULL; i++)
    if (values[i] == v) return names[i];
  return NULL;
}

/* An int argument from a name in names (mapped through values) or an
   integer in int range. */
static int checknamed(lua_State *L, int idx, const char *const *names,
                      const int *values) {
  if (lua_type(L, idx) == LUA_TSTRING)
    return values[luaL_checkoption(L, idx, NULL, names)];
  else {
    lua_Integer v = luaL_checkinteger(L, idx);
    luaL_argcheck(L, v >= 0 && v <= INT_MAX, idx, "out of range");
    return (int)v;
  }
}

int lsk_checkfamily(lua_State *L, int idx) {
  return checknamed(L, idx, family_names, family_values);
}

int lsk_checktype(lua_State *L, int idx) {
  return checknamed(L, idx, type_names, type_values);
}

/* Seconds from a number argument: nil (or none) is -1, forever. */
double lsk_opttimeout(lua_State *L, int idx) {
  lua_Number t;
  if (lua_isnoneornil(L, idx)) return -1;
  t = luaL_checknumber(L, idx);
  luaL_argcheck(L, t >= 0 && t <= LSK_MAX_TIMEOUT, idx,
                "timeout must be nil or between 0 and 1e9 seconds");
  return (double)t;
}

int lsk_setcloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) return errno;
  return 0;
}

int lsk_setnonblock(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno;
  return 0;
}

/* Per-descriptor settings every socket gets: close-on-exec and
   non-blocking where the creating call could not set them, and no SIGPIPE
   where the platform has a per-socket switch for it. */
static int prepare(int fd) {
  int err = 0;
#if defined(LSK_NO_SOCK_FLAGS) || defined(LSK_NO_ACCEPT4)
  if ((err = lsk_setcloexec(fd)) != 0) return err;
  if ((err = lsk_setnonblock(fd)) != 0) return err;
#endif
#if defined(SO_NOSIGPIPE)
  {
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on) < 0)
      err = errno;
  }
#endif
  (void)fd;
  return err;
}

/* The userdata at idx if its metatable is the one at pseudo-index mt (a
   shared upvalue), else a type error naming the class. */
void *lsk_toclass(lua_State *L, int idx, int mt, const char *name) {
  void *p = lua_touserdata(L, idx);
  if (p != NULL && lua_getmetatable(L, idx)) {
    int same = lua_rawequal(L, -1, mt);
    lua_pop(L, 1);
    if (same) return p;
  }
  luaL_typeerror(L, idx, name);
  return NULL;
}

lsk_socket *lsk_tosock(lua_State *L, int idx) {
  return (lsk_socket *)lsk_toclass(L, idx, LSK_UV_SOCKETMT, LSK_SOCKET);
}

lsk_socket *lsk_checkopen(lua_State *L, int idx) {
  lsk_socket *s = lsk_tosock(L, idx);
  if (s->fd < 0) luaL_error(L, "attempt to use a closed socket");
  return s;
}

lsk_socket *lsk_newsocket(lua_State *L) {
  lsk_socket *s = (lsk_socket *)lua_newuserdatauv(L, sizeof *s, 0);
  s->fd = -1;
  s->family = AF_UNSPEC;
  s->type = 0;
  s->protocol = 0;
  s->timeout = -1;
  s->drained = 0;
  s->pending = 0;
  luaL_setmetatable(L, LSK_SOCKET);
  return s;
}

int lsk_fdarg(lua_State *L, int idx) {
  luaL_Stream *f;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer fd = luaL_checkinteger(L, idx);
    luaL_argcheck(L, fd >= 0 && fd <= INT_MAX, idx,
                  "descriptor out of range");
    return (int)fd;
  }
  if (lua_type(L, idx) == LUA_TUSERDATA && lua_getmetatable(L, idx)) {
    int same = lua_rawequal(L, -1, LSK_UV_SOCKETMT);
    lua_pop(L, 1);
    if (same) return lsk_checkopen(L, idx)->fd;
  }
  f = (luaL_Stream *)luaL_testudata(L, idx, LUA_FILEHANDLE);
  if (f != NULL) {
    luaL_argcheck(L, f->closef != NULL && f->f != NULL, idx,
                  "attempt to use a closed file");
    return fileno(f->f);
  }
  return luaL_typeerror(L, idx, "descriptor, socket or file");
}

/* The one close routine for close, __gc and __close. The fd is marked
   closed before close(2) so that no error path can close it twice; an
   EINTR from close(2) still means closed on Linux. */
static int closesocket(lua_State *L, lsk_socket *s) {
  int fd = s->fd, err = 0;
  if (fd < 0) return 0;
  lsk_notifyclose(L, fd);
  s->fd = -1;
  if (close(fd) != 0 && errno != EINTR) err = errno;
  return err;
}

static int sock_close(lua_State *L) {
  int err = closesocket(L, lsk_tosock(L, 1));
  if (err != 0) return lsk_pusherror(L, err, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

static int sock_gc(lua_State *L) {
  closesocket(L, lsk_tosock(L, 1));
  return 0;
}

static int sock_tostring(lua_State *L) {
  lsk_socket *s = lsk_tosock(L, 1);
  const char *fam, *type;
  if (s->fd < 0) {
    lua_pushliteral(L, LSK_SOCKET " (closed)");
    return 1;
  }
  fam = name_of(s->family, family_values, family_names);
  type = name_of(s->type, type_values, type_names);
  lua_pushfstring(L, LSK_SOCKET " (%s %s, fd %d)", fam ? fam : "?",
                  type ? type : "?", s->fd);
  return 1;
}

static int core_type(lua_State *L) {
  lsk_socket *s = (lsk_socket *)luaL_testudata(L, 1, LSK_SOCKET);
  luaL_checkany(L, 1);
  if (s == NULL)
    luaL_pushfail(L);
  else if (s->fd < 0)
    lua_pushliteral(L, "closed socket");
  else
    lua_pushliteral(L, "socket");
  return 1;
}

static void init(lsk_socket *s, int fd, int family, int type, int protocol) {
  s->fd = fd;
  s->family = family;
  s->type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  s->protocol = protocol;
  /* SOCK_NONBLOCK asked for by the caller means "never block" */
  s->timeout = (SOCK_NONBLOCK != 0 && (type & SOCK_NONBLOCK)) ? 0 : -1;
}

/* Makes a new descriptor ready, or closes it and returns the error. */
static int adopt(lsk_socket *s, int fd, int family, int type, int proto) {
  int err = prepare(fd);
  if (err != 0) {
    close(fd);
    return err;
  }
  init(s, fd, family, type, proto);
  return 0;
}

static int checkprotocol(lua_State *L, int idx) {
  lua_Integer p = luaL_optinteger(L, idx, 0);
  luaL_argcheck(L, p >= 0 && p <= INT_MAX, idx, "protocol out of range");
  return (int)p;
}

static int core_socket(lua_State *L) {
  int family = lsk_checkfamily(L, 1);
  int type = lsk_checktype(L, 2);
  int protocol = checkprotocol(L, 3);
  lsk_socket *s = lsk_newsocket(L);
  int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  int err = fd < 0 ? errno : adopt(s, fd, family, type, protocol);
  if (err != 0) return lsk_pusherror(L, err, NULL);
  return 1;
}

static int core_socketpair(lua_State *L) {
  int family = lua_isnoneornil(L, 1) ? AF_UNIX : lsk_checkfamily(L, 1);
  int type = lua_isnoneornil(L, 2) ? SOCK_STREAM : lsk_checktype(L, 2);
  int protocol = checkprotocol(L, 3);
  lsk_socket *a = lsk_newsocket(L);
  lsk_socket *b = lsk_newsocket(L);
  int fds[2], err;
  if (socketpair(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol,
                 fds) < 0)
    return lsk_pusherror(L, errno, NULL);
  err = adopt(a, fds[0], family, type, protocol);
  if (err != 0) {
    close(fds[1]);
    return lsk_pusherror(L, err, NULL);
  }
  if ((err = adopt(b, fds[1], family, type, protocol)) != 0)
    return lsk_pusherror(L, err, NULL);  /* a is closed by its __gc */
  return 2;
}

/* Wraps an existing descriptor, which the socket then owns. Its family,
   type and protocol are read back from the kernel; it is made
   close-on-exec and non-blocking like every lunasock socket. */
static int core_fromfd(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  lsk_socket *s;
  int type = 0, family = AF_UNSPEC, protocol = 0, err;
  socklen_t len = sizeof type;
  struct sockaddr_storage ss;
  luaL_argcheck(L, fd >= 0 && fd <= INT_MAX, 1, "descriptor out of range");
  s = lsk_newsocket(L);
  if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
    return lsk_pusherror(L, errno, NULL);
#if defined(SO_DOMAIN)
  len = sizeof family;
  if (getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
    family = AF_UNSPEC;
#endif
  if (family == AF_UNSPEC) {
    len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getsockname((int)fd, (struct sockaddr *)&ss, &len) == 0)
      family = ss.ss_family;
  }
#if defined(SO_PROTOCOL)
  len = sizeof protocol;
  if (getsockopt((int)fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) < 0)
    protocol = 0;
#endif
  if ((err = lsk_setcloexec((int)fd)) != 0 ||
      (err = lsk_setnonblock((int)fd)) != 0 ||
      (err = prepare((int)fd)) != 0)
    return lsk_pusherror(L, err, NULL);
  init(s, (int)fd, family, type, protocol);
  return 1;
}

static int fdopen_close(lua_State *L) {
  luaL_Stream *p = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);
  return luaL_fileresult(L, fclose(p->f) == 0, NULL);
}

/* core.fdopen(fd[, mode]) -> a Lua file owning fd: for descriptors that
   are not sockets (files, pipes received with recvmsg). The mode defaults
   to the descriptor's access mode. */
static int core_fdopen(lua_State *L) {
  static const char *const modes[] = {"r", "w", "a", "r+", "w+", "a+",
                                      "rb", "wb", "ab", "r+b", "w+b", "a+b",
                                      NULL};
  lua_Integer fd = luaL_checkinteger(L, 1);
  const char *mode;
  luaL_Stream *p;
  luaL_argcheck(L, fd >= 0 && fd <= INT_MAX, 1, "descriptor out of range");
  if (lua_isnoneornil(L, 2)) {
    int fl = fcntl((int)fd, F_GETFL);
    if (fl < 0) return lsk_pusherror(L, errno, NULL);
    mode = (fl & O_ACCMODE) == O_RDONLY ? "r"
         : (fl & O_ACCMODE) == O_WRONLY ? "w" : "r+";
  }
  else
    mode = modes[luaL_checkoption(L, 2, NULL, modes)];
  p = (luaL_Stream *)lua_newuserdatauv(L, sizeof *p, 0);
  p->closef = NULL;  /* closed until fdopen succeeds */
  luaL_setmetatable(L, LUA_FILEHANDLE);
  p->f = fdopen((int)fd, mode);
  if (p->f == NULL) return lsk_pusherror(L, errno, NULL);
  p->closef = fdopen_close;
  return 1;
}

static int sock_bind(lua_State *L) {
  lsk_socket *s = lsk_checkopen(L, 1);
  struct sockaddr_storage ss;
  socklen_t len;
  if (lsk_toaddr(L, s->family, s->type, 2, &ss, &len) != 0) return 3;
  if (bind(s->fd, (struct sockaddr *)&ss, len) < 0)
    return lsk_pusherror(L, errno, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

static int sock_listen(lua_State *L) {
  lsk_socket *s = lsk_checkopen(L, 1);
  lua_Integer backlog = luaL_optinteger(L, 2, SOMAXCONN);
  luaL_argcheck(L, backlog >= 0 && backlog <= INT_MAX, 2,
                "backlog out of range");
  if (listen(s->fd, (int)backlog) < 0) return lsk_pusherror(L, errno, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

/* accept: the new socket's userdata is made once, on the first try, and
   kept in the scratch slot, so that a wait allocates nothing. */
static int accept_attempt(lua_State *L, lsk_socket *s, int base) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  lsk_socket *c;
  int fd, err;
  if (lua_isnil(L, base + 2)) {
    lsk_newsocket(L);
    lua_replace(L, base + 2);
  }
  c = (lsk_socket *)lua_touserdata(L, base + 2);
  for (;;) {
#if defined(LSK_NO_ACCEPT4)
    fd = accept(s->fd, (struct sockaddr *)&ss, &len);
#else
    fd = accept4(s->fd, (struct sockaddr *)&ss, &len,
                 SOCK_CLOEXEC | SOCK_NONBLOCK);
#endif
    if (fd >= 0) break;
    err = errno;
    if (err == EINTR || err == ECONNABORTED) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) return LSK_WANT_READ;
    return lsk_pusherror(L, err, NULL);
  }
  if ((err = adopt(c, fd, s->family, s->type, s->protocol)) != 0)
    return lsk_pusherror(L, err, NULL);
  lua_pushvalue(L, base + 2);
  return 1 + lsk_pushaddr(L, (struct sockaddr *)&ss, len);
}

static int sock_accept(lua_State *L) {
  static const lsk_op op = {accept_attempt, 1};
  return lsk_blocking(L, &op, lsk_checkopen(L, 1));
}

/* connect: the first try calls connect(2); once it is in progress (the
   scratch slot says so) a later try reads the outcome from SO_ERROR. */
static int connect_attempt(lua_State *L, lsk_socket *s, int base) {
  struct sockaddr_storage ss;
  socklen_t len;
  int err;
  if (lua_isnil(L, base + 2)) {
    if (lsk_toaddr(L, s->family, s->type, 2, &ss, &len) != 0) return 3;
    if (connect(s->fd, (struct sockaddr *)&ss, len) == 0) {
      lua_pushboolean(L, 1);
      return 1;
    }
    err = errno;
    if (err != EINPROGRESS && err != EINTR)
      return lsk_pusherror(L, err, NULL);
    lua_pushboolean(L, 1);
    lua_replace(L, base + 2);
    return LSK_WANT_WRITE;
  }
  len = sizeof err;
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err != 0) return lsk_pusherror(L, err, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

static int sock_connect(lua_State *L) {
  static const lsk_op op = {connect_attempt, 3};
  return lsk_blocking(L, &op, lsk_checkopen(L, 1));
}

static int sock_shutdown(lua_State *L) {
  static const char *const names[] = {"r", "w", "rw", NULL};
  static const int values[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
  lsk_socket *s = lsk_checkopen(L, 1);
  int how = lua_isnoneornil(L, 2) ? SHUT_RDWR
                                  : checknamed(L, 2, names, values);
  if (shutdown(s->fd, how) < 0) return lsk_pusherror(L, errno, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

static int pushname(lua_State *L, int peer) {
  lsk_socket *s = lsk_checkopen(L, 1);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int r;
  memset(&ss, 0, sizeof ss);
  r = peer ? getpeername(s->fd, (struct sockaddr *)&ss, &len)
           : getsockname(s->fd, (struct sockaddr *)&ss, &len);
  if (r < 0) return lsk_pusherror(L, errno, NULL);
  return lsk_pushaddr(L, (struct sockaddr *)&ss, len);
}

static int sock_getsockname(lua_State *L) {
  return pushname(L, 0);
}

static int sock_getpeername(lua_State *L) {
  return pushname(L, 1);
}

static int sock_fileno(lua_State *L) {
  lua_pushinteger(L, lsk_checkopen(L, 1)->fd);
  return 1;
}

/* family() -> the integer and, when it has one, the short name */
static int sock_family(lua_State *L) {
  lsk_socket *s = lsk_checkopen(L, 1);
  const char *name = name_of(s->family, family_values, family_names);
  lua_pushinteger(L, s->family);
  if (name == NULL) return 1;
  lua_pushstring(L, name);
  return 2;
}

static int sock_socktype(lua_State *L) {
  lsk_socket *s = lsk_checkopen(L, 1);
  const char *name = name_of(s->type, type_values, type_names);
  lua_pushinteger(L, s->type);
  if (name == NULL) return 1;
  lua_pushstring(L, name);
  return 2;
}

/* settimeout and setblocking return the socket, for chaining. */
static int sock_settimeout(lua_State *L) {
  lsk_socket *s = lsk_checkopen(L, 1);
  s->timeout = lsk_opttimeout(L, 2);
  lua_settop(L, 1);
  return 1;
}

static int sock_gettimeout(lua_State *L) {
  lsk_socket *s = lsk_checkopen(L, 1);
  if (s->timeout < 0)
    lua_pushnil(L);
  else
    lua_pushnumber(L, s->timeout);
  return 1;
}

static int sock_setblocking(lua_State *L) {
  lsk_socket *s = lsk_checkopen(L, 1);
  luaL_checkany(L, 2);
  s->timeout = lua_toboolean(L, 2) ? -1 : 0;
  lua_settop(L, 1);
  return 1;
}

const luaL_Reg lsk_socket_funcs[] = {
  {"socket", core_socket},
  {"socketpair", core_socketpair},
  {"fromfd", core_fromfd},
  {"fdopen", core_fdopen},
  {"type", core_type},
  {NULL, NULL}
};

const luaL_Reg lsk_socket_methods[] = {
  {"close", sock_close},
  {"bind", sock_bind},
  {"listen", sock_listen},
  {"accept", sock_accept},
  {"connect", sock_connect},
  {"shutdown", sock_shutdown},
  {"getsockname", sock_getsockname},
  {"getpeername", sock_getpeername},
  {"fileno", sock_fileno},
  {"family", sock_family},
  {"socktype", sock_socktype},
  {"settimeout", sock_settimeout},
  {"gettimeout", sock_gettimeout},
  {"setblocking", sock_setblocking},
  {NULL, NULL}
};

const luaL_Reg lsk_socket_meta[] = {
  {"__gc", sock_gc},
  {"__close", sock_gc},
  {"__tostring", sock_tostring},
  {NULL, NULL}
};
