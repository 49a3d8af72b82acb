-- lunasock.workers: a prefork supervisor. N processes serve one port,
-- each with its own listening socket and loop; the parent supervises.
-- Any server built on a listening socket can use it (lunasock.http does,
-- with server{workers = N}).
--
--   local workers = require "lunasock.workers"
--   local w = assert(workers.start{n = 4, port = 8080, serve = function(l)
--     return echo_on(l)          -- anything with close()
--   end})
--   loop.run()                   -- the parent supervises while it runs
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local check = require "lunasock.check"

local core = lunasock.core
local setmetatable, pairs, ipairs, tostring, pcall, type, error =
  setmetatable, pairs, ipairs, tostring, pcall, type, error

local M = {}

-- A worker event: to on_error, else stderr.
local function log_error(self, msg)
  local f = self.on_error
  if f then
    pcall(f, msg)
  else
    io.stderr:write(self.name, ": ", msg, "\n")
    io.stderr:flush()
  end
end

-- N processes serving one port, each with its own listening
-- socket (SO_REUSEPORT: the kernel spreads new connections over them by
-- a hash of the addresses) and its own loop. The parent binds the port
-- without listening, so that port 0 is chosen once and the port stays
-- held while workers come and go; it serves nothing itself. While the
-- parent's loop runs it supervises: a worker that dies is reaped and a
-- new one started in its place.
--
-- Each worker is tied to the parent by a socketpair, its link. The worker
-- sends "+" once it listens (or "-CODE\tmessage" if it cannot) and
-- nothing more, so EOF on the parent's end means the worker has died:
-- no SIGCHLD handler, which would be process-wide state. The parent never
-- writes; when its end closes (the parent died, or left without close())
-- the worker stops serving and exits, so no worker outlives it. close()
-- sends SIGTERM, whose default action ends a worker at once.
local Workers = {__name = "lunasock.workers"}
Workers.__index = Workers

M.MAX_WORKERS = 1024   -- processes one start may fork (the CLI's bound too)

M.WORKERS = {
  start_timeout = 30,   -- seconds a new worker has to report it listens
  stop_timeout = 5,     -- seconds from SIGTERM (or EOF) to SIGKILL
  restart_delay = 0.1,  -- a worker that dies within a second of its
  max_restart_delay = 5,  -- start is replaced after this, doubling
}

-- A worker, after the fork: forgets the parent's loop, closes what only
-- the parent should hold, listens, reports on link, and serves until
-- link reaches EOF. Returns its exit status.
local function worker_main(self, link)
  loop.reset()
  self.sock:close()
  for _, w in pairs(self.workers) do w.link:close() end  -- the others' links
  local status = 0
  local ok, err = pcall(loop.run, function()
    local l, lerr, lcode = lunasock.tcp.listen(self.host, self.port,
                                               {backlog = self.backlog, reuseport = true})
    if not l then
      link:send("-" .. tostring(lcode) .. "\t" .. tostring(lerr))
      status = 1
      return
    end
    local srv = self.serve(l)
    link:send("+")
    link:recv(1)  -- "" (or an error) once the parent's end is closed
    -- let the accept task reach its first accept (EOF may have been there
    -- at once): a server closed before that makes accept raise
    coroutine.yield()
    srv:close()
  end)
  if not ok then
    io.stderr:write(self.name, ": worker ", core.getpid(), ": ", tostring(err), "\n")
    status = 1
  end
  return status
end

-- Reaps pid: waits (a task sleeps; otherwise the process) until it has
-- exited or deadline passes, then SIGKILLs it. Returns how it ended, as
-- core.waitpid does, or nil if it was not ours to reap (any more).
local function reap(pid, deadline)
  local delay = 0.001
  while true do
    local r, how, value, name = core.waitpid(pid, core.WNOHANG)
    if r ~= 0 then
      if r then return how, value, name end
      return nil
    end
    if core.monotime() >= deadline then
      core.kill(pid, "KILL")
      r, how, value, name = core.waitpid(pid)
      if r then return how, value, name end
      return nil
    end
    loop.sleep(delay)
    delay = math.min(delay * 2, 0.05)
  end
end

-- Forks one worker and waits (a task yields; otherwise the process
-- blocks) until it listens. -> the worker {pid, link, started}, or nil,
-- msg, code. The worker is in self.workers from the fork on, so that
-- close() stops it even while this waits.
local function spawn(self)
  local a, b, code = core.socketpair()
  if not a then return nil, b, code end
  local pid, err
  pid, err, code = core.fork()
  if pid == 0 then
    -- The child. It never returns from here into the caller, which is
    -- the parent's code (a test runner, a task of the parent's loop).
    a:close()
    local ok, status = pcall(worker_main, self, b)
    os.exit(ok and status or 1)
  end
  b:close()
  if not pid then
    a:close()
    return nil, err, code
  end
  local w = {pid = pid, link = a, started = core.monotime()}
  self.workers[pid] = w
  a:settimeout(M.WORKERS.start_timeout)
  local reply, rerr, rcode = a:recv(512)
  a:settimeout(nil)
  if reply == "+" then return w end
  if self.workers[pid] then  -- close() has not taken it over
    self.workers[pid] = nil
    reap(pid, core.monotime())  -- SIGKILL unless it has exited already
    a:close()
  end
  if reply and reply ~= "" then
    local c, msg = reply:match("^%-([^\t]*)\t(.*)$")
    return nil, "worker " .. pid .. ": " .. (msg or reply), c or "EINVAL"
  elseif reply then
    return nil, "worker " .. pid .. " exited before it listened", "ECHILD"
  end
  return nil, "worker " .. pid .. ": " .. tostring(rerr), rcode
end

local function ending(how, value, name)
  if how == "exited" then return "exited with status " .. tostring(value) end
  if how == "signaled" then
    return "was killed by signal " .. tostring(value) .. (name and " (SIG" .. name .. ")" or "")
  end
  return "has gone"
end

-- One task per worker slot, in the parent's loop: waits for its worker
-- to die, reaps it and starts another, until close().
local function supervise(self, w)
  local delay = 0
  while true do
    w.link:recv(1)  -- "" at EOF: the worker has exited
    if self.closed then return end
    self.workers[w.pid] = nil
    local how, value, name = reap(w.pid, core.monotime() + M.WORKERS.stop_timeout)
    w.link:close()
    log_error(self, ("worker %d %s; starting another"):format(w.pid, ending(how, value, name)))
    if core.monotime() - w.started < 1 then
      delay = math.min(math.max(delay * 2, M.WORKERS.restart_delay),
                       M.WORKERS.max_restart_delay)
      loop.sleep(delay)
    else
      delay = 0
    end
    local err, code
    while true do
      if self.closed then return end
      w, err, code = spawn(self)
      if w then break end
      log_error(self, ("starting a worker failed: %s (%s)"):format(tostring(err), tostring(code)))
      delay = math.min(math.max(delay * 2, M.WORKERS.restart_delay),
                       M.WORKERS.max_restart_delay)
      loop.sleep(delay)
    end
  end
end

-- workers:pids() -> the pids of the workers running now, sorted
function Workers:pids()
  local list = {}
  for pid in pairs(self.workers) do list[#list + 1] = pid end
  table.sort(list)
  return list
end

-- workers:close(): stops supervising, sends every worker SIGTERM and
-- reaps it (SIGKILL for one still there after WORKERS.stop_timeout), and
-- lets go of the port. Inside a task the waiting yields.
function Workers:close()
  if self.closed then return end
  self.closed = true
  local current = loop.current()
  for _, t in ipairs(self.tasks) do
    if t ~= current then t:cancel() end
  end
  self.sock:close()
  local workers = self.workers
  for pid in pairs(workers) do core.kill(pid, "TERM") end
  local deadline = core.monotime() + M.WORKERS.stop_timeout
  for pid, w in pairs(workers) do
    reap(pid, deadline)
    w.link:close()
  end
  self.workers = {}
end
Workers.__close = Workers.close

-- workers.start{n, serve, host, port, backlog, on_error, name} ->
-- workers (fields host, port, sock; pids(), close()), or nil, msg, code.
-- serve(listening_socket) runs in each worker and returns what it
-- serves (anything with close()). Every descriptor the process has open
-- is inherited by the workers, so start them early.
local OPTIONS = {n = true, serve = true, host = true, port = true, backlog = true,
                 on_error = true, name = true}

function M.start(o)
  check.known(check.opts(o, "workers.start"), "workers.start", OPTIONS)
  local n = o.n
  if math.type(n) ~= "integer" or n < 1 then
    error("bad field 'n' (positive integer expected)", 2)
  end
  check.integer(n, "n", "start", 1, M.MAX_WORKERS)   -- each is a process
  if type(o.serve) ~= "function" then error("bad field 'serve' (function expected)", 2) end
  -- the parent's hold on the port: bound, with SO_REUSEPORT, and not
  -- listening (a listener would be given its share of the connections
  -- and never accept them)
  local s, err, code = lunasock.tcp.bind(o.host or "127.0.0.1", o.port or 0,
                                         {reuseport = true})
  if not s then return nil, err, code end
  local self = setmetatable({sock = s, serve = o.serve, backlog = o.backlog,
                             on_error = o.on_error, name = o.name or "lunasock",
                             workers = {}, tasks = {}, closed = false}, Workers)
  self.host, self.port = s:getsockname()
  local started = {}
  for i = 1, n do
    local w, e, c = spawn(self)
    if not w then
      self:close()
      return nil, e, c
    end
    started[i] = w
  end
  for i, w in ipairs(started) do self.tasks[i] = loop.spawn(supervise, self, w) end
  return self
end

return M
