/* lunasock.core: the file system calls a file server needs (stat,
   realpath, readdir, open), so that lunasock.http.static runs no shell and
   blocks no loop on a child process. See LICENSE. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "lunasock.h"

#include <lualib.h>

/* Linux 5.6's openat2 resolves a path beneath a directory in the kernel:
   no "..", absolute path or symlink may leave it (core.open's second
   argument). Elsewhere that call reports ENOSYS. */
#if defined(__linux__)
#include <sys/syscall.h>
#include <linux/openat2.h>
#if defined(SYS_openat2) && defined(RESOLVE_BENEATH)
#define LSK_HAVE_OPENAT2 1
#endif
#endif

/* Shims: O_CLOEXEC and O_NOCTTY where the platform lacks them (fcntl
   then sets close-on-exec right after open). */
#if !defined(O_CLOEXEC)
#define O_CLOEXEC 0
#define LSK_NO_O_CLOEXEC 1
#endif
#if !defined(O_NOCTTY)
#define O_NOCTTY 0
#endif
#if !defined(PATH_MAX)
#define PATH_MAX 4096
#endif

#define LSK_DIR "lunasock.dir"

/* A path argument: a string without embedded NULs (the kernel would see
   a shorter path than the caller meant). */
static const char *checkpath(lua_State *L, int idx) {
  size_t len;
  const char *p = luaL_checklstring(L, idx, &len);
  luaL_argcheck(L, strlen(p) == len, idx, "path contains a NUL byte");
  return p;
}

static const char *typename(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "directory";
  if (S_ISLNK(m)) return "link";
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISSOCK(m)) return "socket";
  if (S_ISCHR(m)) return "char";
  if (S_ISBLK(m)) return "block";
  return "other";
}

/* Seconds and nanoseconds of a stat time, as the platform spells them. */
#if defined(__APPLE__)
#define ST_TIME(st, x) ((st)->st_##x##timespec)
#else
#define ST_TIME(st, x) ((st)->st_##x##tim)
#endif

static void settime(lua_State *L, const char *name, const char *name_ns,
                    struct timespec ts) {
  lua_pushinteger(L, (lua_Integer)ts.tv_sec);
  lua_setfield(L, -2, name);
  lua_pushinteger(L, (lua_Integer)ts.tv_nsec);
  lua_setfield(L, -2, name_ns);
}

#define SETINT(L, st, f) \
  (lua_pushinteger(L, (lua_Integer)(st)->st_##f), lua_setfield(L, -2, #f))

/* The table core.stat returns. */
static void pushstat(lua_State *L, const struct stat *st) {
  lua_createtable(L, 0, 16);
  lua_pushstring(L, typename(st->st_mode));
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)(st->st_mode & 07777));
  lua_setfield(L, -2, "mode");
  SETINT(L, st, size);
  SETINT(L, st, ino);
  SETINT(L, st, dev);
  SETINT(L, st, nlink);
  SETINT(L, st, uid);
  SETINT(L, st, gid);
  SETINT(L, st, rdev);
  SETINT(L, st, blocks);
  SETINT(L, st, blksize);
  settime(L, "mtime", "mtime_ns", ST_TIME(st, m));
  settime(L, "atime", "atime_ns", ST_TIME(st, a));
  settime(L, "ctime", "ctime_ns", ST_TIME(st, c));
}

/* core.stat(path[, follow]) or core.stat(fd | file | socket) -> table.
   A path follows symlinks unless follow is false (lstat); a descriptor
   is fstat'ed, which names exactly the file that was opened. */
static int core_stat(lua_State *L) {
  struct stat st;
  int r;
  if (lua_type(L, 1) == LUA_TSTRING) {
    const char *path = checkpath(L, 1);
    int follow = lua_isnoneornil(L, 2) || lua_toboolean(L, 2);
    r = follow ? stat(path, &st) : lstat(path, &st);
    if (r != 0) return lsk_pusherror(L, errno, path);
  }
  else {
    int fd = lsk_fdarg(L, 1);
    if (fstat(fd, &st) != 0) return lsk_pusherror(L, errno, NULL);
  }
  pushstat(L, &st);
  return 1;
}

/* core.filestamp(path | fd | file | socket) -> stamp, type, size. The
   stamp is a string equal for two calls exactly when the file's device,
   inode, size, mode and times of modification and status change (to the
   nanosecond) are: what a cache of a file's content checks, with one stat
   and no table. A path follows symlinks, as core.stat. */
static int core_filestamp(lua_State *L) {
  struct stat st;
  struct timespec m, c;
  int64_t v[7];
  if (lua_type(L, 1) == LUA_TSTRING) {
    const char *path = checkpath(L, 1);
    if (stat(path, &st) != 0) return lsk_pusherror(L, errno, path);
  }
  else {
    int fd = lsk_fdarg(L, 1);
    if (fstat(fd, &st) != 0) return lsk_pusherror(L, errno, NULL);
  }
  m = ST_TIME(&st, m);
  c = ST_TIME(&st, c);
  v[0] = (int64_t)st.st_ino;
  v[1] = (int64_t)st.st_size;
  v[2] = (int64_t)m.tv_sec;
  v[3] = (int64_t)m.tv_nsec << 32 | (int64_t)st.st_mode;
  v[4] = (int64_t)c.tv_sec;
  v[5] = (int64_t)c.tv_nsec;
  v[6] = (int64_t)st.st_dev;
  lua_pushlstring(L, (const char *)v, sizeof v);
  lua_pushstring(L, typename(st.st_mode));
  lua_pushinteger(L, (lua_Integer)st.st_size);
  return 3;
}

/* core.realpath(path) -> the absolute path with every symlink, "." and
   ".." resolved; the file must exist. */
static int core_realpath(lua_State *L) {
  char buf[PATH_MAX];
  const char *path = checkpath(L, 1);
  if (realpath(path, buf) == NULL) return lsk_pusherror(L, errno, path);
  lua_pushstring(L, buf);
  return 1;
}

/* The DIR* of a readdir in progress lives in a userdata whose __gc closes
   it, so that a memory error while the names are pushed cannot leak it. */
static int dir_gc(lua_State *L) {
  DIR **d = (DIR **)luaL_checkudata(L, 1, LSK_DIR);
  if (*d != NULL) {
    DIR *dir = *d;
    *d = NULL;
    closedir(dir);
  }
  return 0;
}

/* core.readdir(path[, max]) -> names (a list, without "." and ".."), and
   true as a second value when it stopped at max names (default: no
   limit). The order is the directory's own. */
static int core_readdir(lua_State *L) {
  const char *path = checkpath(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, LUA_MAXINTEGER), n = 0;
  int more = 0, err;
  DIR **d;
  luaL_argcheck(L, max >= 0, 2, "max must be a count >= 0");
  lua_settop(L, 2);
  d = (DIR **)lua_newuserdatauv(L, sizeof *d, 0);        /* 3 */
  *d = NULL;
  if (luaL_newmetatable(L, LSK_DIR)) {
    lua_pushcfunction(L, dir_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, 3);
  lua_newtable(L);                                         /* 4 */
  *d = opendir(path);
  if (*d == NULL) return lsk_pusherror(L, errno, path);
  for (;;) {
    struct dirent *e;
    errno = 0;
    e = readdir(*d);
    if (e == NULL) {
      err = errno;
      break;
    }
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (n >= max) {
      more = 1;
      err = 0;
      break;
    }
    lua_pushstring(L, e->d_name);
    lua_rawseti(L, 4, ++n);
  }
  {
    DIR *dir = *d;
    *d = NULL;
    closedir(dir);
  }
  if (err != 0) return lsk_pusherror(L, err, path);
  lua_pushboolean(L, more);
  return 2;
}

static int file_close(lua_State *L) {
  luaL_Stream *p = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);
  return luaL_fileresult(L, fclose(p->f) == 0, NULL);
}

/* open(2); or, when dirfd >= 0 or dir is not NULL, beneath that
   directory (openat2 RESOLVE_BENEATH; magic links such as
   /proc/self/fd/N are refused too). A directory given by path is opened
   (O_PATH) for the call only. */
static int open_ro(const char *path, int dirfd, const char *dir) {
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, fd;
  if (dirfd < 0 && dir == NULL) {
    do fd = open(path, flags);
    while (fd < 0 && errno == EINTR);
    return fd;
  }
#if defined(LSK_HAVE_OPENAT2)
  {
    struct open_how how;
    int own = -1, err;
    if (dir != NULL) {
      do own = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
      while (own < 0 && errno == EINTR);
      if (own < 0) return -1;
      dirfd = own;
    }
    memset(&how, 0, sizeof how);
    how.flags = (unsigned)flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    do fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    err = errno;
    if (own >= 0) close(own);
    errno = err;
    return fd;
  }
#else
  (void)dirfd;
  (void)dir;
  errno = ENOSYS;
  return -1;
#endif
}

/* core.open(path[, dir]) -> a Lua file, read-only, close-on-exec, never
   the process's controlling terminal. With dir (a directory's path, or a
   file or descriptor open on one), path is resolved beneath dir by the
   kernel: a path
   that would leave it fails with EXDEV (ENOSYS where the platform cannot
   do that). The open itself does not wait (a FIFO without a writer would
   hang it); the descriptor is made blocking again afterwards, as a file
   read expects. The userdata is made closed first, so nothing can raise
   while the descriptor is not yet owned. */
static int core_open(lua_State *L) {
  const char *path = checkpath(L, 1);
  const char *dir = lua_type(L, 2) == LUA_TSTRING ? checkpath(L, 2) : NULL;
  int dirfd = dir != NULL || lua_isnoneornil(L, 2) ? -1 : lsk_fdarg(L, 2);
  luaL_Stream *p;
  int fd, fl, err;
  if (luaL_getmetatable(L, LUA_FILEHANDLE) != LUA_TTABLE)
    return luaL_error(L, "core.open needs the io library");
  lua_pop(L, 1);
  p = (luaL_Stream *)lua_newuserdatauv(L, sizeof *p, 0);
  p->f = NULL;
  p->closef = NULL;  /* closed until fdopen succeeds */
  luaL_setmetatable(L, LUA_FILEHANDLE);
  fd = open_ro(path, dirfd, dir);
  if (fd < 0) return lsk_pusherror(L, errno, path);
  err = 0;
#if defined(LSK_NO_O_CLOEXEC)
  err = lsk_setcloexec(fd);
#endif
  if (err == 0 && ((fl = fcntl(fd, F_GETFL)) < 0 ||
                   fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0))
    err = errno;
  if (err == 0 && (p->f = fdopen(fd, "rb")) == NULL) err = errno;
  if (err != 0) {
    close(fd);
    return lsk_pusherror(L, err, path);
  }
  p->closef = file_close;
  return 1;
}

/* core.isatty(fd | file | socket) -> whether it is a terminal (so a
   program knows when a progress line would be seen). */
static int core_isatty(lua_State *L) {
  lua_pushboolean(L, isatty(lsk_fdarg(L, 1)));
  return 1;
}

const luaL_Reg lsk_fs_funcs[] = {
  {"stat", core_stat},
  {"filestamp", core_filestamp},
  {"realpath", core_realpath},
  {"readdir", core_readdir},
  {"open", core_open},
  {"isatty", core_isatty},
  {NULL, NULL}
};
