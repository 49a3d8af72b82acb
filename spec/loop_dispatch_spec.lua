-- lunasock.loop with and without poller:dispatch's C fast path
-- (loop.C_DISPATCH). The C side resumes a task parked alone on its
-- descriptor itself; it relies on the contract documented in
-- csrc/poller.c (readers/writers map fd to the first waiting task, whose
-- chain, timer and co fields are false, false and its coroutine, never
-- nil). Every scenario here runs both ways and must give the same result.
local core = require "lunasock.core"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local http = require "lunasock.http"
local helper = require "helper"

local function both_ways(name, scenario)
  for _, c in ipairs{true, false} do
    it(name .. (c and " (C dispatch)" or " (Lua dispatch)"), function()
      local old = loop.C_DISPATCH
      loop.C_DISPATCH = c
      local ok, err = pcall(scenario)
      loop.C_DISPATCH = old
      assert(ok, err)
    end)
  end
end

describe("lunasock.loop dispatch", function()
  both_ways("echoes over many socketpairs, each task alone on its descriptor", function()
    local n, rounds, got = 20, 50, 0
    loop.run(function()
      local tasks = {}
      for i = 1, n do
        local a, b = assert(core.socketpair())
        tasks[#tasks + 1] = loop.spawn(function()
          for _ = 1, rounds do
            local d = a:recv(64)
            if not d or d == "" then break end
            a:send(d)
          end
          a:close()
        end)
        tasks[#tasks + 1] = loop.spawn(function()
          for r = 1, rounds do
            b:send(i .. ":" .. r)
            if b:recv(64) == i .. ":" .. r then got = got + 1 end
          end
          b:close()
        end)
      end
      for _, t in ipairs(tasks) do t:join() end
    end)
    assert.are.equal(n * rounds, got)
  end)

  both_ways("wakes two tasks waiting on one descriptor, and timed waits", function()
    local got, timed = {}, nil
    loop.run(function()
      local a, b = assert(core.socketpair())
      a:settimeout(helper.TIMEOUT)
      local function reader()
        local d, err = a:recv(1)
        got[#got + 1] = tostring(d or err)
      end
      local t1, t2 = loop.spawn(reader), loop.spawn(reader)
      loop.sleep(0.01)
      b:send("x")
      loop.sleep(0.01)
      b:send("y")
      t1:join()
      t2:join()
      a:settimeout(0.05)
      timed = select(3, a:recv(1))
      a:close()
      b:close()
    end)
    table.sort(got)
    assert.are.same({"x", "y"}, got)
    assert.are.equal("ETIMEDOUT", timed)
  end)

  both_ways("serves keep-alive and pipelined HTTP", function()
    local bodies = {}
    loop.run(function()
      local srv = assert(http.server{handler = function(req) return 200, nil, req.path end})
      local s = assert(core.socket("inet", "stream"))
      s:settimeout(helper.TIMEOUT)
      assert(s:connect("127.0.0.1", srv.port))
      local st = stream.new(s)
      assert(st:write(("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"):rep(3)))
      for _ = 1, 3 do
        repeat local l = assert(st:readline()) until l == ""
        bodies[#bodies + 1] = st:read(2)
      end
      s:close()
      srv:close()
    end)
    assert.are.same({"/a", "/a", "/a"}, bodies)
  end)
end)
