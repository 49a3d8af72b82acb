-- lunasock.core: every function, given anything, returns or raises a Lua
-- error; nothing crashes the interpreter. (Run under make sanitize and
-- make valgrind too, where a bad read would show.)
local core = require "lunasock.core"
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local frame = require "lunasock.frame"
local chat = require "lunasock.chat"
local echo = require "lunasock.echo"
local http = require "lunasock.http"
local pool = require "lunasock.http.pool"
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
      local given = ADDRESS_TAKERS[name] and ADDRESS_VALUES or values
      for pos = 1, 4 do
        for i = 1, given.n do
          local args = {n = 4}
          if pos > 1 then args[1] = keep[1] end  -- a live self
          args[pos] = given[i]
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

-- The Lua layers: every numeric option and argument is range-checked at
-- the door (issue 11, class 6), and an error in one task ends only it.
describe("lunasock Lua layers robustness", function()
  local tls_ok, tls = pcall(require, "lunasock.tls")
  if not tls_ok then tls = nil end

  -- Values no duration may be, and none of the counts below.
  local BAD_SECONDS = {n = 8, 0 / 0, math.huge, -math.huge, -1, -0.5, 2e9,
                       "1", {}}
  local function bad_integers(lo, hi)
    local list = {0 / 0, math.huge, -math.huge, 1.5, "1", {}, lo - 1}
    if hi < math.maxinteger then list[#list + 1] = hi + 1 end
    if hi < 2 ^ 63 then list[#list + 1] = 2 ^ 63 end
    list.n = #list
    return list
  end

  -- Runs fn inside a loop task, its errors caught there; returns pcall's.
  local function in_task(fn)
    local r
    assert(loop.run(function() r = table.pack(pcall(fn)) return true end))
    return table.unpack(r, 1, r.n)
  end

  -- door(value) must raise, at once. (lunasock.core, as the Lua C API
  -- does, converts numeric strings: "1" is a number there.)
  local function raises_for(label, values, door, pattern)
    for i = 1, values.n do
      local v = values[i]
      if (label:find("^socket:") or label:find("^tls%.") or label:find("port$"))
         and type(v) == "string" then
        goto next   -- a service name, or a numeric string lunasock.core converts
      end
      local t0 = loop.now()
      local ok, err = pcall(door, v)
      assert.is_false(ok, label .. " took " .. tostring(v))
      assert.is_string(err, label)
      if pattern then assert.matches(pattern, err, 1, true) end
      assert.is_true(loop.now() - t0 < 1, label .. " was slow to refuse " .. tostring(v))
      ::next::
    end
  end

  it("raises for NaN, infinite, negative, huge and fractional numbers at every door",
     function()
    local dir = helper.tmpdir()
    local l <close>, port = helper.listener()
    local a, b = assert(core.socketpair())
    local _ <close> = helper.closing(a, b)
    local seconds = {
      {"loop.sleep", function(v) loop.sleep(v) end},
      {"loop.after", function(v) loop.after(v, print) end},
      {"loop.suspend", function(v)
        local ok, err = in_task(function() return loop.suspend(v) end)
        if not ok then error(err, 0) end
      end},
      {"tcp.connect", function(v) lunasock.tcp.connect("127.0.0.1", port, {timeout = v}) end},
      {"tcp.listen", function(v) lunasock.tcp.listen("127.0.0.1", 0, {timeout = v}) end},
      {"udp.bind", function(v) lunasock.udp.bind("127.0.0.1", 0, {timeout = v}) end},
      {"udp.connect", function(v) lunasock.udp.connect("127.0.0.1", port, {timeout = v}) end},
      {"unix.listen", function(v) lunasock.unix.listen(dir .. "/l", {timeout = v}) end},
      {"unix.connect", function(v) lunasock.unix.connect(dir .. "/c", {timeout = v}) end},
      {"stream.new", function(v) stream.new(a, {timeout = v}) end},
      {"echo.serve", function(v) echo.serve{port = 0, timeout = v} end},
      {"chat.serve idle_timeout", function(v) chat.serve{idle_timeout = v} end},
      {"chat.serve drain_timeout", function(v) chat.serve{drain_timeout = v} end},
      {"socket:settimeout", function(v) a:settimeout(v) end},
      {"tcp.serve timeout",
       function(v) lunasock.tcp.serve("127.0.0.1", 0, print, {timeout = v}) end},
      {"tcp.serve handshake_timeout",
       function(v) lunasock.tcp.serve("127.0.0.1", 0, print, {handshake_timeout = v}) end},
      {"http.request timeout", function(v)
        http.request{url = "http://127.0.0.1:" .. port .. "/", timeout = v}
      end},
      {"http.request connect_timeout", function(v)
        http.request{url = "http://127.0.0.1:" .. port .. "/", connect_timeout = v}
      end},
      {"http.pool idle_timeout", function(v) pool.new{idle_timeout = v} end},
    }
    for _, k in ipairs{"header_timeout", "idle_timeout", "body_timeout", "linger_timeout"} do
      seconds[#seconds + 1] = {"http.server " .. k, function(v)
        http.server{port = 0, handler = print, [k] = v}
      end}
    end
    if tls then
      seconds[#seconds + 1] = {"tls.wrap timeout", function(v)
        local ctx = tls.context{mode = "client", verify = false}
        tls.wrap(a, ctx, {timeout = v})
      end}
    end
    for _, case in ipairs(seconds) do
      raises_for(case[1], BAD_SECONDS, case[2])
    end
    local counts = {
      {"tcp.listen backlog", 0, 0x7fffffff,
       function(v) lunasock.tcp.listen("127.0.0.1", 0, {backlog = v}) end},
      {"unix.listen backlog", 0, 0x7fffffff,
       function(v) lunasock.unix.listen(dir .. "/b", {backlog = v}) end},
      {"tcp.connect port", 0, 65535, function(v) lunasock.tcp.connect("127.0.0.1", v) end},
      {"tcp.listen port", 0, 65535, function(v) lunasock.tcp.listen("127.0.0.1", v) end},
      {"tcp.bind port", 0, 65535, function(v) lunasock.tcp.bind("127.0.0.1", v) end},
      {"stream.new chunk", 1, 0x7fffffff, function(v) stream.new(a, {chunk = v}) end},
      {"stream.new max_line", 0, math.maxinteger, function(v) stream.new(a, {max_line = v}) end},
      {"frame.lines max", 0, math.maxinteger, function(v) frame.lines{max = v} end},
      {"frame.length max", 0, math.maxinteger, function(v) frame.length(">I4", {max = v}) end},
      {"frame.netstring max", 0, math.maxinteger, function(v) frame.netstring{max = v} end},
      {"frame.fixed size", 1, math.maxinteger, function(v) frame.fixed(v) end},
      {"chat.serve max_line", 1, 0x7fffffff, function(v) chat.serve{max_line = v} end},
      {"chat.serve max_queue", 1, 0x7fffffff, function(v) chat.serve{max_queue = v} end},
      {"chat.serve max_nick", 1, 0x7fffffff, function(v) chat.serve{max_nick = v} end},
      {"chat.serve max_clients", 1, 0x7fffffff, function(v) chat.serve{max_clients = v} end},
      {"chat.serve sndbuf", 1, 0x7fffffff, function(v) chat.serve{sndbuf = v} end},
      {"socket:recv", 0, 0x7fffffff, function(v) a:recv(v, core.MSG_DONTWAIT) end},
      {"socket:listen", 0, 0x7fffffff, function(v) l:listen(v) end},
      {"tcp.serve max_conns", 1, 0x7fffffff,
       function(v) lunasock.tcp.serve("127.0.0.1", 0, print, {max_conns = v}) end},
      {"stream.new write_buffer", 1, math.maxinteger,
       function(v) stream.new(a, {write_buffer = v}) end},
      {"http.request redirects", 0, 0x7fffffff, function(v)
        http.request{url = "http://127.0.0.1:" .. port .. "/", redirects = v}
      end},
      {"http.request max_body", 0, math.maxinteger, function(v)
        http.request{url = "http://127.0.0.1:" .. port .. "/", max_body = v}
      end},
      {"http.pool max_idle", 0, 0x7fffffff, function(v) pool.new{max_idle = v} end},
      {"http.pool max_total", 0, 0x7fffffff, function(v) pool.new{max_total = v} end},
      {"http.server max_body", 0, math.maxinteger,
       function(v) http.server{port = 0, handler = print, max_body = v} end},
    }
    for _, k in ipairs{"max_request_line", "max_head", "max_headers", "drain", "linger_bytes"} do
      counts[#counts + 1] = {"http.server " .. k, 1, 0x7fffffff, function(v)
        http.server{port = 0, handler = print, [k] = v}
      end}
    end
    for _, k in ipairs{"max_status_line", "max_head", "max_headers", "max_interim", "drain"} do
      counts[#counts + 1] = {"http.request " .. k, 0, 0x7fffffff, function(v)
        http.request{url = "http://127.0.0.1:" .. port .. "/", [k] = v}
      end}
    end
    -- workers: only values refused before any fork (never a large integer
    -- here: were the check missing, it would start that many processes)
    raises_for("http.server workers", {n = 7, 0 / 0, math.huge, 1.5, 2 ^ 63, 0, -1, "2"},
               function(v) http.server{port = 0, handler = print, workers = v} end)
    for _, case in ipairs(counts) do
      raises_for(case[1], bad_integers(case[2], case[3]), case[4])
    end
    -- nothing half-made was left registered or open by a refused call
    assert.is_true(loop.run(function() return true end))
    helper.rmdir(dir)
  end)

  -- One class: chat.serve, tcp.connect, udp.bind, http.request, ... once
  -- ignored an option they did not know (a misspelt {tsl = ...} served
  -- plaintext). Every door that takes an options table refuses one.
  it("raises for an unknown option at every door, naming the option and the function",
     function()
    local dir = helper.tmpdir()
    local l <close>, port = helper.listener()
    local a, b = assert(core.socketpair())
    local _ <close> = helper.closing(a, b)
    local u = "http://127.0.0.1:" .. port .. "/"
    local doors = {
      {"tcp.connect", function(o) return lunasock.tcp.connect("127.0.0.1", port, o) end},
      {"tcp.listen", function(o) return lunasock.tcp.listen("127.0.0.1", 0, o) end},
      {"tcp.bind", function(o) return lunasock.tcp.bind("127.0.0.1", 0, o) end},
      {"tcp.serve", function(o) return lunasock.tcp.serve("127.0.0.1", 0, print, o) end},
      {"udp.bind", function(o) return lunasock.udp.bind("127.0.0.1", 0, o) end},
      {"udp.connect", function(o) return lunasock.udp.connect("127.0.0.1", port, o) end},
      {"unix.listen", function(o) return lunasock.unix.listen(dir .. "/l", o) end},
      {"unix.connect", function(o) return lunasock.unix.connect(dir .. "/c", o) end},
      {"unix.serve", function(o) return lunasock.unix.serve(dir .. "/s", print, o) end},
      {"serve.listener", function(o) return require("lunasock.serve").listener(l, print, o) end},
      {"stream.new", function(o) return stream.new(a, o) end},
      {"frame.lines", function(o) return frame.lines(o) end},
      {"frame.length", function(o) return frame.length(">I2", o) end},
      {"frame.netstring", function(o) return frame.netstring(o) end},
      {"echo.serve", function(o) o.port = 0 return echo.serve(o) end},
      {"chat.serve", function(o) o.port = 0 return chat.serve(o) end},
      {"http.server", function(o) o.port, o.handler = 0, print return http.server(o) end},
      {"http.static", function(o) return http.static(dir, o) end},
      {"http.router", function(o) return http.router(o) end},
      {"http.request", function(o) o.url = u return http.request(o) end},
      {"http.get", function(o) return http.get(u, o) end},
      {"client.pool", function(o) return pool.new(o) end},
      {"workers.start", function(o)
        o.n, o.serve = 1, print
        return require("lunasock.workers").start(o)
      end},
    }
    if tls then
      doors[#doors + 1] = {"tls.context", function(o) return tls.context(o) end}
      doors[#doors + 1] = {"tls.wrap", function(o)
        return tls.wrap(a, tls.context{verify = false}, o)
      end}
    end
    for _, door in ipairs(doors) do
      for _, key in ipairs{"tsl", "Timeout", "nodely"} do
        local ok, err = pcall(door[2], {[key] = true})
        assert.is_false(ok, door[1] .. " took " .. key)
        assert.matches("unknown [a-z ]*option '" .. key .. "' to '" .. door[1]:gsub("%.", "%%.")
                       .. "'", err)
      end
    end
    -- lunasock.core's tables of fields: getaddrinfo's hints, sendmsg's
    -- ancillary data, a membership value
    local d = assert(core.socket("inet", "dgram"))
    local _ <close> = d
    for _, call in ipairs{
      function() core.getaddrinfo("127.0.0.1", 80, {famliy = "inet"}) end,
      function() a:sendmsg("x", {fd = {b}}) end,
      function() d:setopt("add_membership", {multiaddr = "239.1.2.3", iface = "lo"}) end,
    } do
      local ok, err = pcall(call)
      assert.is_false(ok)
      assert.matches("unknown field '%a+'", err)
    end
    assert.equal("", b:recv(10, core.MSG_DONTWAIT) or "")   -- nothing was sent
    assert.is_true(loop.run(function() return true end))   -- nothing left running
    helper.rmdir(dir)
  end)

  -- A bad port raised from inside lunasock, blaming 'getaddrinfo' or
  -- 'bind': the caller's mistake is reported as the caller's, by name.
  it("names the door in a bad port's error: tcp.connect, tcp.listen, tcp.serve, udp.*",
     function()
    local doors = {
      {"tcp.connect", function(p) return lunasock.tcp.connect("127.0.0.1", p) end},
      {"tcp.listen", function(p) return lunasock.tcp.listen("127.0.0.1", p) end},
      {"tcp.serve", function(p) return lunasock.tcp.serve("127.0.0.1", p, print) end},
      {"udp.bind", function(p) return lunasock.udp.bind("127.0.0.1", p) end},
      {"udp.connect", function(p) return lunasock.udp.connect("127.0.0.1", p) end},
    }
    for _, door in ipairs(doors) do
      for _, p in ipairs{70000, -1, 1.5, 0 / 0, {}} do
        local ok, err = pcall(door[2], p)
        assert.is_false(ok)
        assert.matches("bad argument #2 to '" .. door[1] .. "'", err, 1, true)
      end
      local ok, err = pcall(door[2])
      assert.is_false(ok)
      assert.matches("port expected, got nil", err, 1, true)
    end
    -- a host that is not a string was handed to getaddrinfo, which blamed
    -- itself; chat.serve and echo.serve take theirs as options
    local ok, err = pcall(lunasock.tcp.connect, {}, 80)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'tcp.connect' (host expected, got table)", err, 1, true)
    for _, door in ipairs{{"chat.serve", chat.serve}, {"echo.serve", echo.serve}} do
      for k, v in pairs{port = -1, host = {}} do
        ok, err = pcall(door[2], {[k] = v})
        assert.is_false(ok)
        assert.matches("bad option '" .. k .. "' to '" .. door[1] .. "'", err, 1, true)
      end
    end
  end)

  -- {nodelay = "no"} meant on; {tls = 5} connected first, then raised
  -- from inside tls.wrap, blaming 'wrap'.
  it("raises for a flag that is not a boolean and a tls that is no TLS setting", function()
    local l <close>, port = helper.listener()
    local cases = {
      {"tcp.connect", "nodelay", "no",
       function(o) return lunasock.tcp.connect("127.0.0.1", port, o) end},
      {"tcp.connect", "tls", 5,
       function(o) return lunasock.tcp.connect("127.0.0.1", port, o) end},
      {"tcp.connect", "servername", 5, function(o)
        o.tls = {verify = false}
        return lunasock.tcp.connect("127.0.0.1", port, o)
      end},
      {"tcp.listen", "reuseaddr", 1, function(o) return lunasock.tcp.listen("127.0.0.1", 0, o) end},
      {"tcp.listen", "reuseport", "yes",
       function(o) return lunasock.tcp.listen("127.0.0.1", 0, o) end},
      {"tcp.serve", "nodelay", 0,
       function(o) return lunasock.tcp.serve("127.0.0.1", 0, print, o) end},
      {"udp.bind", "reuseaddr", "1", function(o) return lunasock.udp.bind("127.0.0.1", 0, o) end},
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(c[4], {[c[2]] = c[3]})
      assert.is_false(ok, c[1] .. " " .. c[2])
      assert.matches("bad option '" .. c[2] .. "' to '" .. c[1] .. "'", err, 1, true)
    end
    l:settimeout(0)
    assert.is_nil(l:accept())   -- refused before connecting
  end)

  it("issue 11: loop.suspend(0/0) ends only its task; timers keep running",
     function()
    local fired = false
    local errors, res = helper.reports(loop.run, function()
      loop.after(0, function() fired = true end)
      local bad = loop.spawn(function() return loop.suspend(0 / 0) end)
      local junk = loop.spawn(function() coroutine.yield(3, 12345, 0 / 0) end)
      local junk2 = loop.spawn(function() coroutine.yield(-1, core.POLLIN) end)
      local junk3 = loop.spawn(function() coroutine.yield(3, core.POLLIN, "soon") end)
      local good = loop.spawn(function() loop.sleep(0.01) return "still here" end)
      assert.is_nil((bad:join()))
      assert.is_nil((junk:join()))
      assert.is_nil((junk2:join()))
      assert.is_nil((junk3:join()))
      return good:join()
    end)
    assert.equal("still here", res)
    assert.is_true(fired)
    assert.equal(4, #errors)
    assert.matches("suspend", errors[1], 1, true)
    assert.matches("invalid wait", errors[2], 1, true)
  end)

  it("issue 11: tcp.connect with timeout = 2e9 raises at once instead of hanging",
     function()
    local _ <close>, port = helper.listener()
    for _, host in ipairs{"127.0.0.1", "localhost"} do
      local t0 = loop.now()
      local ok, err = pcall(lunasock.tcp.connect, host, port, {timeout = 2e9})
      assert.is_false(ok)
      assert.matches("bad option 'timeout' to 'tcp.connect' (number of seconds from 0 to 1e+09",
                     err, 1, true)
      ok, err = in_task(function()
        return lunasock.tcp.connect(host, port, {timeout = 2e9})
      end)
      assert.is_false(ok)
      assert.matches("timeout", err, 1, true)
      assert.is_true(loop.now() - t0 < 1)
    end
  end)

  it("issue 11: frame.lines{max = math.maxinteger} reads lines", function()
    local a, b = assert(core.socketpair())
    local _ <close> = helper.closing(a, b)
    b:settimeout(helper.TIMEOUT)
    local f = frame.lines{max = math.maxinteger}
    local st = stream.new(b)
    assert(a:send("one\ntwo\r\n"))
    assert.equal("one", f:read(st))
    assert.equal("two", f:read(st))
  end)

  it("a socket closed by another task while this one waits: EBADF, not a hang",
     function()
    local a, b = assert(core.socketpair())
    local _ <close> = helper.closing(a, b)
    local got
    assert(loop.run(function()
      local reader = loop.spawn(function() return b:recv(10) end)
      loop.sleep(0)   -- the reader is waiting now
      b:close()
      got = table.pack(reader:join())
      return true
    end))
    assert.is_nil(got[1])
    assert.equal("EBADF", got[3])
  end)

  it("a task cancelled in the middle of a write leaves the loop and the socket usable",
     function()
    local a, b = assert(core.socketpair())
    local _ <close> = helper.closing(a, b)
    assert(a:setopt("sndbuf", 4096))
    local big = string.rep("x", 1 << 20)
    local st = stream.new(a)
    local before
    assert(loop.run(function()
      local writer = loop.spawn(function() return st:write(big) end)
      loop.sleep(0)   -- the writer has filled the buffer and waits
      assert.equal("waiting", writer:status())
      assert.is_true(writer:cancel())
      assert.equal("cancelled", writer:status())
      assert.same({nil, "cancelled"}, {writer:join()})
      -- the loop goes on; the socket can still be drained and closed
      local n = 0
      while true do
        local data = b:recv(65536, core.MSG_DONTWAIT)
        if not data then break end
        n = n + #data
      end
      before = n
      assert(a:send("end"))
      return true
    end))
    assert.is_true(before > 0 and before < #big)
    b:settimeout(helper.TIMEOUT)
    local tail = b:recv(3, core.MSG_WAITALL)
    assert.equal("end", tail)
  end)
end)

-- Inside a loop task: connects to 127.0.0.1:port, sends data whole, and
-- reads until the server closes or helper.TIMEOUT passes; returns what
-- came.
local function exchange(port, data)
  local c <close> = assert(lunasock.tcp.connect("127.0.0.1", port))
  c:settimeout(helper.TIMEOUT)
  local sent = 0
  while sent < #data do
    sent = sent + assert(c:send(data:sub(sent + 1)))
  end
  local got, deadline = {}, loop.now() + helper.TIMEOUT
  while loop.now() < deadline do
    local d = c:recv(65536)
    if not d or d == "" then break end
    got[#got + 1] = d
  end
  return table.concat(got)
end

describe("lunasock CPU per byte", function()
  -- With the quadratic patterns these lines took 61 s and 26 s of CPU,
  -- during which the loop ran nothing else: the bounded wait below fails.
  it("issue 11: chat trims lines and strips telnet in linear time", function()
    local out = helper.run_task(function()
      local srv <close> = assert(chat.serve{port = 0, max_line = 300000})
      local lines = {"bob", "/me a" .. string.rep(" ", 100000) .. "b",
                     "  " .. string.rep(" ", 100000) .. "x" .. string.rep("\t", 100000),
                     string.rep("\255\250", 50000), "/quit"}
      return exchange(srv.port, table.concat(lines, "\r\n") .. "\r\n")
    end)
    assert.matches("*** you are bob", out, 1, true)
    assert.matches("*** bye", out, 1, true)
    assert.equal("", chat.strip_telnet(string.rep("\255\250", 50000)))
  end)
end)

describe("lunasock.frame limits at the top of the range", function()
  it("issue 11: frame.netstring{max = math.maxinteger} refuses a 2^63-1 length instead of raising",
     function()
    local a, b = assert(core.socketpair())
    local _ <close> = helper.closing(a, b)
    b:settimeout(helper.TIMEOUT)
    local f = frame.netstring{max = math.maxinteger}
    local st = stream.new(b)
    assert(a:send("3:abc,9223372036854775807:x"))
    assert.equal("abc", f:read(st))
    local ok, msg, code = f:read(st)
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.equal("EMSGSIZE", code)
  end)
end)

describe("lunasock.http handler arguments", function()
  it("issue 11: req:read_body(0/0) raises instead of reading without a limit", function()
    local results = {}
    local out = helper.run_task(function()
      local srv <close> = assert(http.server{port = 0, handler = function(req)
        for _, v in ipairs{0 / 0, math.huge, -1, 1.5, "9"} do
          results[#results + 1] = (pcall(req.read_body, req, v))
        end
        return 200, nil, assert(req:read_body(10))
      end})
      return exchange(srv.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                                .. "Connection: close\r\n\r\nabc")
    end)
    assert.same({false, false, false, false, false}, results)
    assert.matches("^HTTP/1.1 200", out)
    assert.matches("\r\n\r\nabc$", out)
  end)
end)
