-- lunasock.core: no descriptor outlives the socket that owns it.
local core = require "lunasock.core"
local helper = require "helper"

local function collect()
  collectgarbage()
  collectgarbage()
end

describe("lunasock.core descriptor leaks", function()
  it("closes thousands of unclosed sockets when they are collected",
     function()
    collect()
    local before = helper.fd_count()
    for _ = 1, 3000 do
      assert(core.socket("inet", "stream"))
    end
    for _ = 1, 1000 do
      assert(core.socketpair())
    end
    collect()
    assert.equal(before, helper.fd_count())
  end)

  it("closes accepted and connected sockets that are dropped", function()
    local l <close>, port = helper.listener()
    collect()
    local before = helper.fd_count()
    for _ = 1, 500 do
      local c = assert(core.socket("inet", "stream"))
      c:settimeout(helper.TIMEOUT)
      assert(c:connect("127.0.0.1", port))
      assert(l:accept())
    end
    collect()
    assert.equal(before, helper.fd_count())
  end)

  it("leaks nothing when calls fail", function()
    collect()
    local before = helper.fd_count()
    for _ = 1, 500 do
      local s = assert(core.socket("inet", "stream"))
      s:settimeout(0)
      assert.is_nil(s:recv(10))
      assert.is_nil(s:accept())
      assert.is_nil(core.fromfd(1000000))
      pcall(s.bind, s, {}, 0)
      pcall(s.recv, s, -1)
    end
    collect()
    assert.equal(before, helper.fd_count())
  end)

  it("does not grow Lua memory over many round trips", function()
    local a, b = assert(core.socketpair())
    local _ <close> = helper.closing(a, b)
    b:settimeout(helper.TIMEOUT)
    local function rounds(n)
      for _ = 1, n do
        a:send("0123456789")
        b:recv(10)
      end
    end
    rounds(1000)
    collect()
    local before = collectgarbage("count")
    rounds(20000)
    collect()
    assert.is_true(collectgarbage("count") - before < 64)  -- KB
  end)
end)
