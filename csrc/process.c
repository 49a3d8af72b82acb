/* lunasock.core: processes (fork, waitpid, kill, getpid). See LICENSE. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "lunasock.h"

/* Largest pid accepted, either sign: -pid names a process group, and
   INT_MIN has no positive counterpart. */
#define MAXPID INT_MAX

/* The syscalls, on plain C values. Each returns its result or -1 with
   errno set; EINTR is retried where a retry is the same call. */

/* Returns fork's result with errno. Buffered output written before the
   fork would otherwise be written twice, once by each process's exit;
   and no name lookup may be running on a resolver thread (resolver.c). */
static pid_t do_fork(void) {
  pid_t pid;
  int err;
  fflush(NULL);
  lsk_prefork();
  pid = fork();
  err = errno;
  lsk_postfork(pid == 0);
  errno = err;
  return pid;
}

static pid_t do_waitpid(pid_t pid, int *status, int options) {
  pid_t r;
  do r = waitpid(pid, status, options); while (r < 0 && errno == EINTR);
  return r;
}

/* A pid argument: an integer that fits pid_t. */
static pid_t checkpid(lua_State *L, int idx) {
  lua_Integer pid = luaL_checkinteger(L, idx);
  luaL_argcheck(L, pid >= -MAXPID && pid <= MAXPID, idx,
                "pid out of range");
  return (pid_t)pid;
}

/* A signal argument: an integer from 0 up (0 only checks that the process
   exists), or a name with or without its SIG prefix ("TERM", "SIGTERM"),
   from the table constants.c builds. */
static int checksignal(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *name = lua_tostring(L, idx);
    const lsk_const *c;
    if (strncmp(name, "SIG", 3) == 0) name += 3;
    for (c = lsk_signals; c->name != NULL; c++)
      if (strcmp(c->name + 3, name) == 0) return (int)c->value;
    return luaL_argerror(L, idx, lua_pushfstring(L,
                         "unknown signal '%s'", lua_tostring(L, idx)));
  }
  else {
    lua_Integer sig = luaL_checkinteger(L, idx);
    luaL_argcheck(L, sig >= 0 && sig <= INT_MAX, idx, "signal out of range");
    return (int)sig;
  }
}

/* The name of signal sig without SIG ("TERM"), or NULL. */
static const char *signame(int sig) {
  const lsk_const *c;
  for (c = lsk_signals; c->name != NULL; c++)
    if (c->value == sig) return c->name + 3;
  return NULL;
}

/* core.fork() -> pid in the parent, 0 in the child; or nil, msg, code */
static int core_fork(lua_State *L) {
  pid_t pid = do_fork();
  if (pid < 0) return lsk_pusherror(L, errno, "fork");
  lua_pushinteger(L, pid);
  return 1;
}

/* Pushes how a wait status says the child changed and the value that
   goes with it: "exited", code; "signaled", signal, name; "stopped",
   signal, name; "continued". Returns the count. */
static int pushstatus(lua_State *L, int status) {
  int sig;
  const char *name;
  if (WIFEXITED(status)) {
    lua_pushliteral(L, "exited");
    lua_pushinteger(L, WEXITSTATUS(status));
    return 2;
  }
#if defined(WIFCONTINUED)
  if (WIFCONTINUED(status)) {
    lua_pushliteral(L, "continued");
    return 1;
  }
#endif
  if (WIFSIGNALED(status)) {
    lua_pushliteral(L, "signaled");
    sig = WTERMSIG(status);
  }
  else if (WIFSTOPPED(status)) {
    lua_pushliteral(L, "stopped");
    sig = WSTOPSIG(status);
  }
  else {
    lua_pushliteral(L, "unknown");
    lua_pushinteger(L, status);
    return 2;
  }
  lua_pushinteger(L, sig);
  name = signame(sig);
  if (name == NULL) return 2;
  lua_pushstring(L, name);
  return 3;
}

/* core.waitpid(pid[, options]) -> pid, how, ...; 0 with WNOHANG when no
   child has changed yet; or nil, msg, code */
static int core_waitpid(lua_State *L) {
  pid_t pid = checkpid(L, 1);
  lua_Integer options = luaL_optinteger(L, 2, 0);
  int status = 0;
  pid_t r;
  luaL_argcheck(L, options >= 0 && options <= INT_MAX, 2,
                "options out of range (WNOHANG, WUNTRACED, WCONTINUED or-ed)");
  r = do_waitpid(pid, &status, (int)options);
  if (r < 0) return lsk_pusherror(L, errno, "waitpid");
  lua_pushinteger(L, r);
  if (r == 0) return 1;
  return 1 + pushstatus(L, status);
}

/* core.kill(pid, sig) -> true, or nil, msg, code. sig is required: a
   default would make kill(-1) or kill(0) easy to send by mistake. */
static int core_kill(lua_State *L) {
  pid_t pid = checkpid(L, 1);
  int sig = checksignal(L, 2);
  if (kill(pid, sig) < 0) return lsk_pusherror(L, errno, "kill");
  lua_pushboolean(L, 1);
  return 1;
}

/* core.getpid() -> this process's pid */
static int core_getpid(lua_State *L) {
  lua_pushinteger(L, getpid());
  return 1;
}

const luaL_Reg lsk_process_funcs[] = {
  {"fork", core_fork},
  {"waitpid", core_waitpid},
  {"kill", core_kill},
  {"getpid", core_getpid},
  {NULL, NULL}
};
