-- lunasock.core: every function, given anything, returns or raises a Lua
-- error; nothing crashes the interpreter. (Run under make sanitize and
-- make valgrind too, where a bad read would show.)
local core = require "lunasock.core"
local helper = require "helper"

-- Calls that take an address: given strings, they could try to resolve a
-- name through DNS, which specs must never do. They get the curated
-- hostile addresses below instead of arbitrary strings.
local ADDRESS_TAKERS = {
  bind = true, connect = true, sendto = true, sendmsg = true,
  getaddrinfo = true, getnameinfo = true,
}

-- Not called with arbitrary values: fdopen(1) would take over stdout,
-- setclosehook and close would change the state later calls rely on.
-- The process calls act on real processes: fork, given anything, forks
-- (and the child would go on through this loop, forking again: a fork
-- bomb); waitpid(0) or waitpid(-1) would reap, or wait for, children
-- this run has elsewhere; kill(-1, sig) would signal every process we
-- may signal. Each has its own checks below, with pids no process has.
local SKIP = {fdopen = true, setclosehook = true, close = true,
              fork = true, waitpid = true, kill = true}

local function hostile_values()
  local closed = assert(core.socket("inet", "stream"))
  closed:close()
  local open = assert(core.socket("inet", "dgram"))
  open:settimeout(0)
  local poller = core.poller()
  local dead_poller = core.poller()
  dead_poller:close()
  return {
    n = 24,
    nil, true, false, 0, -1, 1, 65536, math.maxinteger, math.mininteger,
    1e308, -1e308, 0 / 0, 0.5, "", "\0", string.rep("x", 70000), {},
    {fds = {-1}}, print, coroutine.create(print), io.stdout, closed,
    open, poller, dead_poller,
  }, {open, poller}
end

-- Safe addresses: hostile in shape, never a name to look up.
local ADDRESS_VALUES = {
  n = 14,
  nil, "", "\0", "127.0.0.1\0evil", "::1%", "256.1.1.1\0", "1.2.3.4",
  string.rep("1", 300), -1, 65536, math.maxinteger, 0 / 0, {}, io.stdout,
}

local function try(fn, ...)
  -- either a result or a Lua error (a string or table); never a crash
  local ok, err = pcall(fn, ...)
  if not ok then
    assert.is_true(type(err) == "string" or type(err) == "table",
                   "error of type " .. type(err))
  end
end

local function blocks(name, args)
  -- poller:wait(nil) or a huge timeout with nothing registered would block
  if name == "wait" then
    local t = args[2]
    return not (math.type(t) and t == t and t <= 0.01)
  end
  return false
end

local function targets()
  local s = assert(core.socket("inet", "stream"))
  local list = {}
  for name, fn in pairs(core) do
    if type(fn) == "function" then list[#list + 1] = {name, fn, false} end
  end
  for name, fn in pairs(debug.getmetatable(s).__index) do
    list[#list + 1] = {name, fn, true}
  end
  local p = core.poller()
  for name, fn in pairs(debug.getmetatable(p).__index) do
    list[#list + 1] = {name, fn, true}
  end
  p:close()
  s:close()
  table.sort(list, function(a, b) return a[1] < b[1] end)
  return list
end

describe("lunasock.core robustness", function()
  it("survives every function and method called with hostile arguments",
     function()
    local values, keep = hostile_values()
    local calls = 0
    for _, t in ipairs(targets()) do
      local name, fn = t[1], t[2]
      local pool = ADDRESS_TAKERS[name] and ADDRESS_VALUES or values
      for pos = 1, 4 do
        for i = 1, pool.n do
          local args = {n = 4}
          if pos > 1 then args[1] = keep[1] end  -- a live self
          args[pos] = pool[i]
          if not blocks(name, args) and not SKIP[name] then
            try(fn, table.unpack(args, 1, args.n))
            calls = calls + 1
          end
        end
      end
    end
    assert.is_true(calls > 1000)
    for _, x in ipairs(keep) do x:close() end
  end)

  it("survives hostile arguments to kill and waitpid, touching no process",
     function()
    -- Any value as the signal or options; as the pid, anything but an
    -- integer some process could have: a pid above Linux's largest
    -- pid_max (2^22), its group, or a value that is not a pid at all.
    -- (fork is not called: whatever it is given, it forks.)
    local values, keep = hostile_values()
    local NO_PID = 4194305
    local pids = {n = 2, NO_PID, -NO_PID}
    for i = 1, values.n do
      local v = values[i]
      if math.tointeger(v) == nil and not (type(v) == "string" and tonumber(v)) then
        pids.n = pids.n + 1
        pids[pids.n] = v
      end
    end
    local calls = 0
    for _, fn in ipairs{core.kill, core.waitpid} do
      for i = 1, pids.n do
        for j = 1, values.n do
          try(fn, pids[i], values[j])
          try(fn, pids[i], values[j], values[j])
          calls = calls + 2
        end
      end
    end
    assert.is_true(calls > 1000)
    assert.equal("ESRCH", select(3, core.kill(NO_PID, "TERM")))
    assert.equal("ECHILD", select(3, core.waitpid(NO_PID, core.WNOHANG)))
    for _, x in ipairs(keep) do x:close() end
  end)

  it("raises for a method called on another type's userdata", function()
    local s = assert(core.socket("inet", "stream"))
    local methods = debug.getmetatable(s).__index
    for name, fn in pairs(methods) do
      assert.has_error(function() fn(io.stdout) end, nil, name)
      assert.has_error(function() fn(core.poller()) end, nil, name)
    end
    s:close()
  end)

  it("raises on every method of a closed socket but close", function()
    local s = assert(core.socket("inet", "stream"))
    s:close()
    for name, fn in pairs(debug.getmetatable(s).__index) do
      if name ~= "close" then
        assert.has_error(function() fn(s, 1, 2, 3) end,
                         "attempt to use a closed socket")
      end
    end
  end)

  it("rejects out-of-range ports, counts and descriptors with errors",
     function()
    local s <close> = assert(core.socket("inet", "dgram"))
    assert.has_error(function() s:bind("127.0.0.1", -1) end)
    assert.has_error(function() s:bind("127.0.0.1", 65536) end)
    assert.has_error(function() s:recv(-1) end)
    assert.has_error(function() s:recv(2 ^ 53) end)
    assert.has_error(function() s:sendto("x", "127.0.0.1", 1e10) end)
    assert.has_error(function() core.fromfd(-1) end)
    assert.has_error(function() core.fromfd(2 ^ 40) end)
    assert.has_error(function() s:listen(-5) end)
    assert.has_error(function() s:shutdown("x") end)
    assert.same({nil, "EBADF"}, {core.fdopen(1000000), select(3, core.fdopen(1000000))})
    assert.has_error(function() core.fdopen(-1) end)
    assert.has_error(function() core.fdopen(0, "rw+x") end)
  end)

  it("survives a close hook that fails, and still closes", function()
    collectgarbage("collect")  -- sockets earlier specs dropped close now
    local before = helper.fd_count()
    core.setclosehook(function() error("hook failure") end)
    local s = assert(core.socket("inet", "stream"))
    local ok = pcall(s.close, s)
    core.setclosehook(nil)
    assert.is_true(ok)
    assert.equal("closed socket", core.type(s))
    assert.equal(before, helper.fd_count())
  end)
end)
