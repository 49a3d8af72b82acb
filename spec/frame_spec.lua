-- lunasock.frame: round trips, limits, truncation and hostile headers,
-- over unix socketpairs and TCP loopback.
local core = require "lunasock.core"
local stream = require "lunasock.stream"
local frame = require "lunasock.frame"
local loop = require "lunasock.loop"
local helper = require "helper"

-- A stream to read from and the raw socket feeding it.
local function pair()
  local a, b = assert(core.socketpair())
  a:settimeout(helper.TIMEOUT)
  b:settimeout(helper.TIMEOUT)
  return stream.new(b), a, stream.new(a)
end

local function result(...)
  return table.pack(...)
end

describe("lunasock.frame", function()
  local framers = {
    lines = function() return frame.lines{max = 100} end,
    crlf_lines = function() return frame.lines{max = 100, eol = "\r\n"} end,
    [">I2"] = function() return frame.length(">I2", {max = 100}) end,
    ["<I4"] = function() return frame.length("<I4", {max = 100}) end,
    [">I8"] = function() return frame.length(">I8", {max = 100}) end,
    ["s4"] = function() return frame.length("s4", {max = 100}) end,
    [">i4"] = function() return frame.length(">i4", {max = 100}) end,
    netstring = function() return frame.netstring{max = 100} end,
  }

  for name, make in pairs(framers) do
    describe(name, function()
      it("round-trips messages, including empty and max-sized ones", function()
        local rd, raw, wr = pair()
        local f = make()
        local _ <close> = helper.closing(raw, rd.sock)
        local msgs = {"hello", "", "ünïcödé", string.rep("m", 100), "tab\there"}
        for _, m in ipairs(msgs) do assert(f:write(wr, m)) end
        for _, m in ipairs(msgs) do assert.equal(m, f:read(rd)) end
      end)

      it("refuses to write a message over max, writing nothing", function()
        local rd, raw, wr = pair()
        local f = make()
        local _ <close> = helper.closing(raw, rd.sock)
        assert.same({nil, "frame of 101 bytes exceeds the limit of 100", "EMSGSIZE"},
                    {f:write(wr, string.rep("x", 101))})
        assert(f:write(wr, "after"))
        assert.equal("after", f:read(rd))
      end)

      it("tells a clean EOF from a frame cut short", function()
        local rd, raw, wr = pair()
        local f = make()
        local _ <close> = rd.sock
        assert(f:write(wr, "complete"))
        raw:close()
        assert.equal("complete", f:read(rd))
        assert.same({nil, "closed", "EOF"}, {f:read(rd)})

        local rd2, raw2, wr2 = pair()
        local _2 <close> = rd2.sock
        assert(f:write(wr2, "cut short"))
        local whole = rd2.sock:recv(100)
        raw2:send(whole:sub(1, #whole - 2))
        raw2:close()
        assert.same({nil, "truncated frame", "EPROTO"}, {f:read(stream.new(rd2.sock))})
      end)

      it("reads frames split over many sends and many frames in one", function()
        local rd, raw = pair()
        local f = make()
        local _ <close> = helper.closing(raw, rd.sock)
        -- encode three frames through a scratch pair, then send byte by byte
        local srd, sraw, swr = pair()
        local _s <close> = helper.closing(srd.sock, sraw)
        for _, m in ipairs{"one", "two", "three"} do assert(f:write(swr, m)) end
        local bytes = srd.sock:recv(1000)
        loop.run(function()
          loop.spawn(function()
            for i = 1, #bytes do raw:send(bytes:sub(i, i)) loop.sleep(0) end
            raw:send(bytes)
          end)
          for _ = 1, 2 do
            assert.equal("one", f:read(rd))
            assert.equal("two", f:read(rd))
            assert.equal("three", f:read(rd))
          end
        end)
      end)
    end)
  end

  describe("lines", function()
    it("accepts LF and CRLF, writes its own eol", function()
      local rd, raw, wr = pair()
      local _ <close> = helper.closing(raw, rd.sock)
      raw:send("unix\nwindows\r\n")
      local f = frame.lines{eol = "\r\n"}
      assert.equal("unix", f:read(rd))
      assert.equal("windows", f:read(rd))
      assert(f:write(wr, "out"))
      assert.equal("out\r\n", rd.sock:recv(100))
    end)

    it("refuses a line over max however it arrives, and CR/LF inside a message", function()
      local rd, raw, wr = pair()
      local _ <close> = helper.closing(raw, rd.sock)
      local f = frame.lines{max = 10}
      raw:send(string.rep("a", 10) .. "\n" .. string.rep("b", 11) .. "\n")
      assert.equal(string.rep("a", 10), f:read(rd))
      assert.equal("EMSGSIZE", select(3, f:read(rd)))
      assert.equal("EINVAL", select(3, f:write(wr, "two\nlines")))
    end)

    it("buffers at most max plus one recv of an endless line", function()
      local rd, raw = pair()
      local _ <close> = helper.closing(raw, rd.sock)
      local f = frame.lines{max = 1000}
      raw:send(string.rep("z", 200000))
      local r = result(f:read(rd))
      assert.equal("EMSGSIZE", r[3])
      assert.is_true(#rd.buf < 1000 + rd.chunk + 1)
    end)
  end)

  describe("length", function()
    it("rejects a hostile 0xffffffff length from the prefix alone", function()
      local rd, raw = pair()
      local _ <close> = helper.closing(raw, rd.sock)
      raw:send(string.pack(">I4", 0xffffffff) .. "tiny")
      local r = result(frame.length(">I4", {max = 1 << 20}):read(rd))
      assert.same({nil, "frame of 4294967295 bytes exceeds the limit of 1048576", "EMSGSIZE"},
                  {r[1], r[2], r[3]})
      assert.equal(4, rd:buffered())  -- the payload was never waited for
    end)

    it("rejects an 8-byte length past 2^63 and a negative signed one", function()
      local rd, raw = pair()
      local _ <close> = helper.closing(raw, rd.sock)
      raw:send(string.rep("\xff", 8))
      assert.equal("EPROTO", select(3, frame.length(">I8"):read(rd)))
      raw:send(string.pack(">i4", -5))
      assert.equal("EPROTO", select(3, frame.length(">i4"):read(rd)))
      raw:send(string.pack(">I8", 1 << 62))
      assert.equal("EMSGSIZE", select(3, frame.length(">I8"):read(rd)))
    end)

    it("caps max at what the prefix can carry", function()
      assert.equal(255, frame.length("B").max)
      assert.equal(32767, frame.length(">i2").max)
      assert.equal(frame.DEFAULT_MAX, frame.length(">I4").max)
    end)

    it("refuses formats that are not one integer", function()
      for _, bad in ipairs{"z", ">I4I4", "d", "", ">I17", "c4"} do
        assert.has_error(function() frame.length(bad) end)
      end
      assert.has_error(function() frame.length(4) end)
    end)
  end)

  describe("netstring", function()
    it("writes the djb form", function()
      local rd, raw, wr = pair()
      local _ <close> = helper.closing(raw, rd.sock)
      assert(frame.netstring():write(wr, "hello world!"))
      assert.equal("12:hello world!,", rd.sock:recv(100))
    end)

    local bad = {
      ["leading zero"] = {"05:hello,", "EPROTO"},
      ["missing comma"] = {"5:hello;", "EPROTO"},
      ["non-digits"] = {"5x:hello,", "EPROTO"},
      ["empty length"] = {":hello,", "EPROTO"},
      ["100 digits"] = {string.rep("9", 100) .. ":x,", "EMSGSIZE"},
      ["over max"] = {"101:" .. string.rep("x", 101) .. ",", "EMSGSIZE"},
    }
    for what, case in pairs(bad) do
      it("rejects a netstring with " .. what, function()
        local rd, raw = pair()
        local _ <close> = helper.closing(raw, rd.sock)
        raw:send(case[1])
        assert.equal(case[2], select(3, frame.netstring{max = 100}:read(rd)))
      end)
    end

    it("accepts 0:,", function()
      local rd, raw = pair()
      local _ <close> = helper.closing(raw, rd.sock)
      raw:send("0:,")
      assert.equal("", frame.netstring():read(rd))
    end)
  end)

  describe("fixed", function()
    it("reads and writes records of one size", function()
      local rd, raw, wr = pair()
      local _ <close> = helper.closing(raw, rd.sock)
      local f = frame.fixed(4)
      assert(f:write(wr, "abcd"))
      assert.equal("EINVAL", select(3, f:write(wr, "abc")))
      raw:send("efgh")
      assert.equal("abcd", f:read(rd))
      assert.equal("efgh", f:read(rd))
      raw:send("ij")
      raw:close()
      assert.same({nil, "truncated frame", "EPROTO"}, {f:read(rd)})
      assert.has_error(function() frame.fixed(0) end)
    end)
  end)

  it("passes stream timeouts through", function()
    local rd, raw = pair()
    local _ <close> = helper.closing(raw, rd.sock)
    rd:settimeout(0.01)
    raw:send(string.pack(">I2", 10) .. "abc")
    assert.equal("ETIMEDOUT", select(3, frame.length(">I2"):read(rd)))
  end)

  it("works over TCP loopback inside loop tasks", function()
    local l <close>, port = helper.listener()
    local got = {}
    loop.run(function()
      local server = loop.spawn(function()
        local c = assert(l:accept())
        local st, f = stream.new(c), frame.length(">I4")
        while true do
          local m = f:read(st)
          if not m then break end
          f:write(st, m:upper())
        end
        c:close()
      end)
      local c = assert(core.socket("inet", "stream"))
      c:settimeout(helper.TIMEOUT)
      assert(c:connect("127.0.0.1", port))
      local st, f = stream.new(c), frame.length(">I4")
      for i = 1, 50 do
        assert(f:write(st, "message " .. i))
        got[i] = f:read(st)
      end
      c:close()
      server:join()
    end)
    assert.equal(50, #got)
    assert.equal("MESSAGE 50", got[50])
  end)
end)
