-- Shared by the specs: loaded by busted before every spec file (see
-- .busted) and requirable as "helper". Every wait in a spec is bounded by
-- helper.TIMEOUT seconds (a socket timeout, a loop deadline), so a broken
-- build fails a test instead of hanging the run.
local core = require "lunasock.core"
local lfs = require "lfs"

local helper = {}

helper.TIMEOUT = tonumber(os.getenv("LUNASOCK_TEST_TIMEOUT")) or 5

-- What a CPU-time bound in a spec (a linear-time check: "under 1 s of
-- CPU, where a quadratic pattern takes minutes") is multiplied by: 1, or
-- what a slowed-down run says in LUNASOCK_CPU_SLACK (make valgrind: 40,
-- memcheck runs code 20-50 times slower; make sanitize: 4). Otherwise a
-- raised timeout stands for the slowdown.
helper.CPU_SLACK = tonumber(os.getenv("LUNASOCK_CPU_SLACK"))
                   or math.max(1, helper.TIMEOUT / 5)

-- Runs fn as a loop task and returns its results; an error in fn
-- propagates to the test. The run is bounded by limit seconds (default
-- 2 * helper.TIMEOUT): past it the loop stops and the test fails. When fn
-- returns, the loop is stopped, ending any task fn left behind (servers
-- fn opened are closed by fn or by the to-be-closed values it holds).
function helper.run_task(fn, limit)
  local loop = require "lunasock.loop"
  local result
  local guard = loop.after(limit or helper.TIMEOUT * 2, function() loop.stop() end)
  loop.run(function()
    result = table.pack(pcall(fn))
    guard:cancel()
    loop.stop()
  end)
  assert(result, "the test did not finish in time")
  if not result[1] then error(result[2], 0) end
  return table.unpack(result, 2, result.n)
end

-- Calls fn(...) with loop.on_error collecting the task failures the loop
-- reports instead of printing them: returns that list, then fn's
-- results. An error fn raises propagates, after loop.on_error is
-- restored.
function helper.reports(fn, ...)
  local loop = require "lunasock.loop"
  local got, saved = {}, loop.on_error
  loop.on_error = function(_, msg) got[#got + 1] = msg end
  local r = table.pack(pcall(fn, ...))
  loop.on_error = saved
  if not r[1] then error(r[2], 0) end
  return got, table.unpack(r, 2, r.n)
end

-- Runs fn(server) as a loop task with http.server(opts) serving; an error
-- in fn propagates, and the whole run is bounded by 2 * helper.TIMEOUT.
function helper.with_http_server(opts, fn)
  local loop, http = require "lunasock.loop", require "lunasock.http"
  local result
  local guard = loop.after(helper.TIMEOUT * 2, function() loop.stop() end)
  loop.run(function()
    local srv = assert(http.server(opts))
    result = table.pack(pcall(fn, srv))
    srv:close()
    guard:cancel()
  end)
  assert(result, "the test did not finish in time")
  if not result[1] then error(result[2], 0) end
end

-- helper.settle(server, open, parked): waits (bounded, inside a loop
-- task) until server:connections() gives open, parked, and checks it:
-- parking and closing happen in other tasks.
function helper.settle(server, open, parked)
  local loop = require "lunasock.loop"
  local t0 = loop.now()
  while select(2, server:connections()) ~= parked or server:connections() ~= open do
    if loop.now() - t0 > helper.TIMEOUT then break end
    loop.sleep(0.005)
  end
  local o, p = server:connections()
  if o ~= open or p ~= parked then
    error(("connections() gave %d open, %d parked; %d, %d expected"):format(o, p, open, parked), 2)
  end
end

-- Reads an HTTP/1.1 response head from the stream st: the status (nil
-- when the status line is not HTTP/1.1's) and the header fields by
-- lower-case name; nil, err when the stream ends before it.
function helper.read_head(st)
  local line, err = st:readline()
  if not line then return nil, err end
  local status = tonumber(line:match("^HTTP/1%.1 (%d%d%d) "))
  local headers = {}
  while true do
    local l = assert(st:readline())
    if l == "" then break end
    local k, v = l:match("^([^:]+):%s*(.-)%s*$")
    headers[k:lower()] = v
  end
  return status, headers
end

-- A client socket connected to an HTTP server on 127.0.0.1 (srv.port),
-- with helper.TIMEOUT, and a stream on it.
function helper.http_connect(srv)
  local s = assert(core.socket("inet", "stream"))
  s:settimeout(helper.TIMEOUT)
  assert(s:connect("127.0.0.1", srv.port))
  return s, require("lunasock.stream").new(s)
end

-- s as one word for sh: single-quoted, inner quotes escaped.
function helper.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The command line running bin/lunasock with the words in args, bounded
-- by timeout(1) at limit seconds. --foreground passes a signal on to the
-- child once; without it timeout also signals its whole process group,
-- and lua5.4, whose SIGINT handler is one-shot, could take the second
-- SIGINT as a fatal one.
function helper.cli_command(args, limit)
  local words = {}
  for i, a in ipairs(args) do words[i] = helper.quote(a) end
  return ("timeout --foreground %d %s bin/lunasock %s"):format(limit, helper.LUA,
                                                                table.concat(words, " "))
end

-- A bin/lunasock child started without waiting: {pid, out (a handle on
-- its stdout), err (the path of a file holding its stderr)}. opts.limit:
-- the seconds timeout(1) gives it (default 2 * helper.TIMEOUT);
-- opts.stdin: a shell redirection or a pipeline prefix ("< file",
-- "cat file |"; default "</dev/null"); opts.ulimit: its descriptor limit
-- (ulimit -n). cli_finish waits for it.
function helper.cli_start(args, opts)
  opts = opts or {}
  local err = os.tmpname()
  local cmd = helper.cli_command(args, opts.limit or math.floor(helper.TIMEOUT * 2))
              .. " 2>" .. helper.quote(err)
  local stdin = opts.stdin or "</dev/null"
  if stdin:match("|%s*$") then
    cmd = stdin .. " " .. cmd
  else
    cmd = cmd .. " " .. stdin
  end
  local limit = opts.ulimit and ("ulimit -n %d; "):format(opts.ulimit) or ""
  local p = assert(io.popen("echo $$; " .. limit .. "exec " .. cmd, "r"))
  local pid = assert(tonumber(p:read("l")), "no pid from the shell")
  return {pid = pid, out = p, err = err}
end

-- Waits for a child from cli_start: its exit status, the rest of its
-- stdout, its stderr.
function helper.cli_finish(proc)
  local out = proc.out:read("a")
  local status = helper.exit_status(proc.out:close())
  local err = helper.slurp(proc.err)
  os.remove(proc.err)
  return status, out, err
end

-- Runs bin/lunasock to the end: status, stdout, stderr.
function helper.cli_run(args, opts)
  return helper.cli_finish(helper.cli_start(args, opts))
end

-- Starts a bin/lunasock server (cli_start) and reads its "listening on"
-- line: the process, then host and port (or the unix path). Without that
-- line the child is ended and the error carries its stderr.
function helper.cli_server(args, opts)
  local proc = helper.cli_start(args, opts)
  local line = proc.out:read("l")
  local where = line and line:match("^listening on (.+)$")
  if not where then
    os.execute("kill " .. proc.pid .. " 2>/dev/null")
    local _, _, err = helper.cli_finish(proc)
    error("the server did not start: " .. tostring(line) .. "\n" .. err, 2)
  end
  local host, port = where:match("^(.*):(%d+)$")
  return proc, host or where, tonumber(port)
end

-- Ends a child from cli_start with SIGINT: status, stdout, stderr.
function helper.cli_interrupt(proc)
  assert(os.execute("kill -INT " .. proc.pid))
  return helper.cli_finish(proc)
end

-- Writes data to the file at path (created or truncated).
function helper.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- A sparse file of size bytes at path, ending in "tail!".
function helper.sparse(path, size)
  local f = assert(io.open(path, "wb"))
  f:seek("set", size - 5)
  f:write("tail!")
  f:close()
end

-- n bytes of numbered lines ("0000000000\n0000000011\n..."), so that a
-- byte from a wrong offset shows.
function helper.numbered(n)
  local t = {}
  for i = 0, n // 11 do t[#t + 1] = string.format("%010d\n", i * 11) end
  return table.concat(t):sub(1, n)
end

-- The whole content of the file at path, or "" when it cannot be opened.
function helper.slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- A shell's exit status from what os.execute or a pipe's close returns:
-- 0, the code, or 128 + the signal.
function helper.exit_status(ok, how, code)
  if ok then return 0 end
  if how == "signal" then return 128 + code end
  return code
end

-- A listening TCP socket on host (default 127.0.0.1), port 0; returns the
-- socket and the port the kernel chose.
function helper.listener(host, family)
  family = family or ((host and host:find(":")) and "inet6" or "inet")
  local l = assert(core.socket(family, "stream"))
  l:settimeout(helper.TIMEOUT)
  assert(l:setopt("reuseaddr", true))
  assert(l:bind(host or "127.0.0.1", 0))
  assert(l:listen())
  local _, port = l:getsockname()
  return l, port
end

-- A connected TCP pair over loopback: client, server-side socket, and the
-- listener (closed).
function helper.tcp_pair(host)
  local l, port = helper.listener(host)
  local c = assert(core.socket(l:family(), "stream"))
  c:settimeout(helper.TIMEOUT)
  assert(c:connect(host or "127.0.0.1", port))
  local s = assert(l:accept())
  s:settimeout(helper.TIMEOUT)
  l:close()
  return c, s
end

-- The descriptors open in this process (lfs comes with busted). The
-- directory handle lfs opens to list them is left out.
function helper.open_fds()
  local fds = {}
  for name in lfs.dir("/proc/self/fd") do
    local fd = tonumber(name)
    if fd then fds[#fds + 1] = fd end
  end
  return fds
end

function helper.fd_count()
  return #helper.open_fds() - 1
end

-- This process's pid, from /proc/self/stat.
function helper.pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  return pid
end

-- The descriptor this process has open on path (found in /proc/self/fd).
function helper.fileno(path)
  for _, fd in ipairs(helper.open_fds()) do
    local attr = lfs.symlinkattributes("/proc/self/fd/" .. fd)
    if attr and attr.target == path then return fd end
  end
end

-- A new descriptor for the same socket as sock, as an integer the caller
-- owns: passed through a socketpair with SCM_RIGHTS.
function helper.dupfd(sock)
  local a, b = assert(core.socketpair())
  local _ <close> = helper.closing(a, b)
  assert(a:sendmsg("x", {fds = {sock}}))
  local _, info = assert(b:recvmsg(1))
  return info.fds[1]
end

-- Closes integer descriptors received with recvmsg: sockets through
-- fromfd, anything else through fdopen.
function helper.close_fds(fds)
  for _, fd in ipairs(fds) do
    local s = core.fromfd(fd)
    if s then s:close() else assert(core.fdopen(fd)):close() end
  end
end

-- Runs a Lua chunk in a child lua5.4 that finds this tree's modules;
-- returns the io.popen handle (its close() is true when the child
-- succeeded). The chunk goes through a temporary file, not the shell.
helper.LUA = os.getenv("LUA") or "lua5.4"

-- The build directory (.busted: build/, or $LUNASOCK_BUILD for the
-- sanitizer build), and env(1) with the words that give a child lua5.4
-- this tree's modules: helper.LUA_ENV .. " " .. helper.LUA .. " file.lua".
helper.BUILD = os.getenv("LUNASOCK_BUILD") or "build"
helper.LUA_ENV = ("env LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='%s/?.so;;'")
                 :format(helper.BUILD)

-- The command line running examples/NAME with args (already quoted)
-- under timeout(1): limit seconds, default 15.
function helper.example_command(name, args, limit)
  return ("%s timeout %d %s examples/%s %s"):format(helper.LUA_ENV, limit or 15, helper.LUA,
                                                     name, args or "")
end

-- Starts examples/NAME with args in the background (suffix: shell
-- redirections, " 2>/dev/null"; limit: as example_command): its pid
-- (timeout's, which passes a TERM on), the popen handle on its stdout,
-- and its first line.
function helper.example_start(name, args, suffix, limit)
  local p = assert(io.popen("echo $$; exec " .. helper.example_command(name, args, limit)
                            .. (suffix or "")))
  local pid = assert(math.tointeger(tonumber(p:read("l"))))
  return pid, p, p:read("l")
end

-- Ends a child started as above (SIGTERM by its pid) and reaps it.
function helper.stop_child(pid, p)
  os.execute("kill " .. pid .. " 2>/dev/null")
  p:close()
end

-- The prefix for outside programs the specs drive (curl, python3, nginx,
-- nc): they run without the sanitizer runtime that make sanitize preloads
-- for lua5.4. Preloaded into curl, ASan deadlocks it before it starts.
helper.TOOL = os.getenv("LD_PRELOAD") and "env -u LD_PRELOAD " or ""

function helper.run_lua(code, mode)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("os.remove(", ("%q"):format(path), ")\n", code)
  f:close()
  return assert(io.popen(helper.LUA_ENV .. " " .. helper.LUA .. " " .. path, mode or "r"))
end

-- A to-be-closed value that closes all of its arguments (Lua 5.4 allows
-- one <close> variable per local statement).
function helper.closing(...)
  local list = table.pack(...)
  return setmetatable({}, {__close = function()
    for i = 1, list.n do
      if list[i] then list[i]:close() end
    end
  end})
end

-- A fresh private directory for unix socket paths; removed by cleanup().
function helper.tmpdir()
  local name = os.tmpname()
  os.remove(name)
  assert(os.execute("mkdir -m 700 " .. name))
  return name
end

function helper.rmdir(dir)
  os.execute("rm -rf '" .. dir .. "'")
end

-- The fd flags line of /proc/self/fdinfo/FD as an integer (octal there).
function helper.fd_flags(fd)
  local f = io.open("/proc/self/fdinfo/" .. fd)
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return tonumber(text:match("flags:%s*(%d+)"), 8)
end

helper.O_CLOEXEC = 0x80000  -- 02000000 octal, Linux
helper.O_NONBLOCK = 0x800   -- 04000 octal, Linux

return helper
