-- lunasock.http.server with workers = N: N processes on one port
-- (SO_REUSEPORT), supervised by this one. Worker processes are forked
-- from this busted run; the server's fork path never lets a child return
-- here (it ends in os.exit). Every wait is bounded by helper.TIMEOUT and
-- polls with a deadline; the port is 0, read back from the server.
local core = require "lunasock.core"
local loop = require "lunasock.loop"
local http = require "lunasock.http"
local helper = require "helper"

local T = helper.TIMEOUT
local MAX_CONNECTIONS = 200  -- to see both workers: 2^-199 to miss one

-- One request on a new connection: the body of the response.
local function fetch(port)
  local c <close> = assert(core.socket("inet", "stream"))
  c:settimeout(T)
  assert(c:connect("127.0.0.1", port))
  assert(c:send("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"))
  local parts = {}
  while true do
    local data, err = c:recv(4096)
    assert(data, err)
    if data == "" then break end
    parts[#parts + 1] = data
  end
  local response = table.concat(parts)
  assert.truthy(response:find("^HTTP/1%.1 200 "), response)
  return response:match("\r\n\r\n(.*)$")
end

-- Fetches on new connections until every pid in want has answered.
-- Returns the set of pids seen and the count of connections.
local function fetch_until(port, want)
  local seen, n = {}, 0
  local function all()
    for _, pid in ipairs(want) do
      if not seen[pid] then return false end
    end
    return true
  end
  while not all() and n < MAX_CONNECTIONS do
    n = n + 1
    seen[tonumber(fetch(port))] = true
  end
  return seen, n
end

-- Polls cond() until it is true or T seconds pass (sleeping in the loop
-- between tries, so the server's supervisor runs).
local function eventually(cond)
  local deadline = core.monotime() + T
  while not cond() do
    if core.monotime() > deadline then return false end
    loop.sleep(0.01)
  end
  return true
end

-- Whether pid has exited and been reaped (kill(pid, 0) finds nothing;
-- a zombie would still be found).
local function reaped(pid)
  return select(3, core.kill(pid, 0)) == "ESRCH"
end

local function pid_handler()
  return 200, {["content-type"] = "text/plain"}, tostring(core.getpid())
end

-- Runs fn inside the loop, failing the test if it raises.
local function in_loop(fn)
  local task = loop.spawn(fn)
  loop.run()
  local ok, err = task:join()
  if ok == nil and err ~= nil then error(err, 0) end
end

describe("lunasock.http workers", function()
  it("answers on one port from two worker processes", function()
    local srv = assert(http.server{port = 0, workers = 2, handler = pid_handler})
    local pids = srv:pids()
    in_loop(function()
      assert.is_true(srv.port > 0)
      assert.equal(2, #pids)
      assert.is_true(pids[1] ~= core.getpid() and pids[2] ~= core.getpid())
      local seen, n = fetch_until(srv.port, pids)
      assert.is_true(seen[pids[1]] and seen[pids[2]],
                     "both workers answered within " .. n .. " connections")
      for pid in pairs(seen) do
        assert.is_true(pid == pids[1] or pid == pids[2], "an answer from " .. pid)
      end
      srv:close()
    end)
    for _, pid in ipairs(pids) do assert.is_true(reaped(pid), pid) end
  end)

  it("replaces a worker killed with SIGKILL, and the port keeps serving", function()
    local log = {}
    local srv = assert(http.server{port = 0, workers = 2, handler = pid_handler,
                                   on_error = function(msg) log[#log + 1] = msg end})
    local all = {}
    in_loop(function()
      local before = srv:pids()
      local victim, survivor = before[1], before[2]
      all[1], all[2] = victim, survivor
      assert.is_true(core.kill(victim, "KILL"))
      local replacement
      assert.is_true(eventually(function()
        local now = srv:pids()
        if #now == 2 and now[1] ~= victim and now[2] ~= victim then
          replacement = now[1] == survivor and now[2] or now[1]
          return true
        end
        return false
      end), "no new worker")
      all[3] = replacement
      assert.is_true(reaped(victim))
      assert.equal(1, #log)
      assert.truthy(log[1]:find("worker " .. victim .. " was killed by signal 9", 1, true), log[1])
      -- the port serves, and the new worker answers on it
      local seen, n = fetch_until(srv.port, {survivor, replacement})
      assert.is_true(seen[survivor] and seen[replacement],
                     "both workers answered within " .. n .. " connections")
      assert.is_nil(seen[victim])
      srv:close()
    end)
    for _, pid in ipairs(all) do assert.is_true(reaped(pid), pid) end
  end)

  it("close() stops every worker and leaves no child process or descriptor", function()
    loop.sleep(0)  -- makes the loop's sleeper poller, kept for good: not a leak
    collectgarbage()   -- sockets an earlier spec forgot are not this one's
    collectgarbage()
    local fds = helper.fd_count()
    local pids
    do
      local srv <close> = assert(http.server{port = 0, workers = 2, handler = pid_handler})
      pids = srv:pids()
      assert.equal(2, #pids)
      fetch(srv.port)  -- outside the loop: the supervisors would keep it running
    end  -- closed here, outside the loop: close() blocks until reaped
    for _, pid in ipairs(pids) do assert.is_true(reaped(pid), pid) end
    collectgarbage()
    collectgarbage()
    assert.equal(fds, helper.fd_count())
  end)

  it("releases the port when closed", function()
    local srv = assert(http.server{port = 0, workers = 2, handler = pid_handler})
    local port = srv.port
    srv:close()
    srv:close()  -- idempotent
    local l <close> = assert(core.socket("inet", "stream"))
    assert(l:bind("127.0.0.1", port))  -- no SO_REUSEPORT: nobody holds it
    local c <close> = assert(core.socket("inet", "stream"))
    c:settimeout(T)
    assert.equal("ECONNREFUSED", select(3, c:connect("127.0.0.1", port)))
  end)

  it("workers exit by themselves when the parent dies without close()", function()
    -- The parent is a child lua5.4 that starts two workers, prints their
    -- pids and exits at once; its workers see EOF on their links.
    local p = helper.run_lua([[
      local http = require "lunasock.http"
      local srv = assert(http.server{port = 0, workers = 2,
                                     handler = function() return 200, nil, "x" end})
      local pids = srv:pids()
      io.stdout:write(pids[1], " ", pids[2], "\n")
      io.stdout:flush()
      os.exit(0)  -- no close(): the workers are left behind
    ]])
    local line = p:read("l")
    local a, b = assert(line):match("^(%d+) (%d+)$")
    local pids = {tonumber(a), tonumber(b)}
    -- Gone, or a zombie that whoever inherited it has not reaped yet:
    -- either way no longer running.
    local function exited(pid)
      local f = io.open("/proc/" .. pid .. "/stat")
      if not f then return true end
      local state = f:read("a"):match("^%d+ %b() (%a)")
      f:close()
      return state == "Z" or state == "X"
    end
    local deadline = core.monotime() + T
    local ok
    repeat
      ok = exited(pids[1]) and exited(pids[2])
      if not ok then loop.sleep(0.01) end
    until ok or core.monotime() > deadline
    assert.is_true(ok, "workers still running")
    p:close()
  end)

  it("refuses workers that are not a positive integer", function()
    for _, bad in ipairs{0, -1, 1.5, "2", true} do
      assert.has_error(function()
        http.server{port = 0, workers = bad, handler = pid_handler}
      end, "http.server: workers must be a positive integer")
    end
  end)

  it("refuses more workers than lunasock.workers.MAX_WORKERS, before any fork", function()
    local before = helper.fd_count()
    assert.has_error(function()
      http.server{port = 0, workers = 1025, handler = pid_handler}
    end, "http.server: workers must be at most 1024")
    assert.are.equal(before, helper.fd_count())
  end)
end)
