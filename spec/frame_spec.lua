-- lunasock.frame: round trips, limits, truncation, hostile headers and
-- the stream's state after each kind of error, over unix socketpairs and
-- TCP loopback, inside loop tasks and outside.
local core = require "lunasock.core"
local stream = require "lunasock.stream"
local frame = require "lunasock.frame"
local loop = require "lunasock.loop"
local helper = require "helper"

-- Two connected sockets from a transport; each returns (a, b).
local transports = {
  socketpair = function() return assert(core.socketpair()) end,
  tcp = function() return helper.tcp_pair() end,
}

-- A stream to read from, the raw socket feeding it, a stream writing
-- through that socket, and a to-be-closed value for both sockets.
local function pair(transport)
  local a, b = (transports[transport or "socketpair"])()
  a:settimeout(helper.TIMEOUT)
  b:settimeout(helper.TIMEOUT)
  return stream.new(b), a, stream.new(a), helper.closing(a, b)
end

-- Every value a call returned, nils included, as a list with n.
local function result(...)
  return table.pack(...)
end

-- The bytes a framer writes for msg.
local function encode(f, msg)
  local rd, _, wr, _c <close> = pair()
  assert(f:write(wr, msg))
  return rd:socket():recv(#msg + 100)
end

-- Nothing waiting on the socket (a write that wrote nothing).
local function assert_nothing_sent(sock)
  local r = result(sock:recv(100, core.MSG_DONTWAIT))
  assert.equal("EAGAIN", r[3], "bytes were sent: " .. tostring(r[1]))
end

local ALL_BYTES = {}
for i = 0, 255 do ALL_BYTES[#ALL_BYTES + 1] = string.char(i) end
ALL_BYTES = table.concat(ALL_BYTES)

describe("lunasock.frame", function()
  -- Every framer and format, with max = 100 (fixed: records of 100).
  local framers = {
    lines = function(max) return frame.lines{max = max} end,
    crlf_lines = function(max) return frame.lines{max = max, eol = "\r\n"} end,
    [">I2"] = function(max) return frame.length(">I2", {max = max}) end,
    ["<I4"] = function(max) return frame.length("<I4", {max = max}) end,
    [">I8"] = function(max) return frame.length(">I8", {max = max}) end,
    ["<I8"] = function(max) return frame.length("<I8", {max = max}) end,
    ["B"] = function(max) return frame.length("B", {max = max}) end,
    [">i4"] = function(max) return frame.length(">i4", {max = max}) end,
    ["s4"] = function(max) return frame.length("s4", {max = max}) end,
    ["<s4"] = function(max) return frame.length("<s4", {max = max}) end,
    [">s2"] = function(max) return frame.length(">s2", {max = max}) end,
    [">I16"] = function(max) return frame.length(">I16", {max = max}) end,
    netstring = function(max) return frame.netstring{max = max} end,
  }
  local is_text = {lines = true, crlf_lines = true}

  for name, make in pairs(framers) do
    for transport in pairs(transports) do
      describe(name .. " over " .. transport, function()
        it("round-trips messages, empty and max-sized ones included", function()
          local rd, _, wr, _c <close> = pair(transport)
          local f = make(300)
          local msgs = {"hello", "", "ünïcödé", string.rep("m", f.max), "tab\there"}
          if not is_text[name] then   -- every byte value, in two messages
            msgs[#msgs + 1], msgs[#msgs + 2] = ALL_BYTES:sub(1, 128), ALL_BYTES:sub(129)
          end
          for _, m in ipairs(msgs) do assert(f:write(wr, m)) end
          for _, m in ipairs(msgs) do assert.equal(m, f:read(rd)) end
        end)

        it("reads frames split over many sends and many frames from one recv", function()
          local rd, raw, _, _c <close> = pair(transport)
          local f = make(100)
          local bytes = encode(f, "one") .. encode(f, "") .. encode(f, "three")
          loop.run(function()
            loop.spawn(function()
              for i = 1, #bytes do
                assert(raw:send(bytes:sub(i, i)))
                loop.sleep(0)          -- a yield: the reader sees each byte alone
              end
              assert(raw:send(bytes .. bytes))
            end)
            for _ = 1, 3 do
              assert.equal("one", f:read(rd))
              assert.equal("", f:read(rd))
              assert.equal("three", f:read(rd))
            end
          end)
        end)
      end)
    end

    describe(name, function()
      it("writes a message of exactly max and refuses max + 1, writing nothing", function()
        local rd, _, wr, _c <close> = pair()
        local f = make(100)
        assert.same({nil, "frame of 101 bytes exceeds the limit of 100", "EMSGSIZE", n = 3},
                    result(f:write(wr, string.rep("x", 101))))
        assert_nothing_sent(rd:socket())
        assert(f:write(wr, string.rep("y", 100)))
        assert.equal(string.rep("y", 100), f:read(rd))
      end)

      it("reads a frame of exactly max and refuses max + 1", function()
        local rd, raw, _, _c <close> = pair()
        local big = make(1000)
        raw:send(encode(big, string.rep("a", 100)) .. encode(big, string.rep("b", 101)))
        local f = make(100)
        assert.equal(string.rep("a", 100), f:read(rd))
        assert.equal("EMSGSIZE", result(f:read(rd))[3])
      end)

      it("tells a clean EOF from a frame cut short at any byte", function()
        local f = make(100)
        local bytes = encode(f, "cut short")
        for cut = 0, #bytes do
          local rd, raw, _, _c <close> = pair()
          raw:send(bytes:sub(1, cut))
          raw:close()
          if cut == 0 then
            assert.same({nil, "closed", "EOF", n = 3}, result(f:read(rd)))
          elseif cut == #bytes then
            assert.equal("cut short", f:read(rd))
            assert.same({nil, "closed", "EOF", n = 3}, result(f:read(rd)))
          else
            assert.same({nil, "truncated frame", "EPROTO", bytes:sub(1, cut), n = 4},
                        result(f:read(rd)), "cut at " .. cut)
            -- the stream is at its end now
            assert.same({nil, "closed", "EOF", n = 3}, result(f:read(rd)))
          end
        end
      end)

      it("leaves a frame unread when the stream times out, so read can go on", function()
        local f = make(100)
        local bytes = encode(f, "patience") .. encode(f, "next")
        for cut = 1, #bytes - 1 do
          local rd, raw, _, _c <close> = pair()
          rd.sock:settimeout(0)       -- outside a loop: EAGAIN at once
          raw:send(bytes:sub(1, cut))
          local r = result(f:read(rd))
          if r[1] ~= "patience" then
            assert.same({nil, "Resource temporarily unavailable", "EAGAIN", n = 3}, r)
            raw:send(bytes:sub(cut + 1))
            rd.sock:settimeout(helper.TIMEOUT)
            assert.equal("patience", f:read(rd), "cut at " .. cut)
          else
            raw:send(bytes:sub(cut + 1))
            rd.sock:settimeout(helper.TIMEOUT)
          end
          assert.equal("next", f:read(rd), "cut at " .. cut)
        end
      end)

      it("raises on misuse: a dot call, no stream, a message that is no string", function()
        local rd, _, wr, _c <close> = pair()
        local f = make(100)
        assert.has_error(function() f.read(rd) end)
        assert.has_error(function() f:read() end)
        assert.has_error(function() f:read("stream") end)
        assert.has_error(function() f:write(wr, 42) end)
        assert.has_error(function() f:write(wr) end)
        assert.has_error(function() make(-1) end)
        assert.has_error(function() make(1.5) end)
      end)
    end)
  end

  describe("lines", function()
    it("accepts LF and CRLF, keeps a lone CR, writes its own eol", function()
      local rd, raw, wr, _c <close> = pair()
      raw:send("unix\nwindows\r\nmid\rline\n\r\n\n")
      local f = frame.lines{eol = "\r\n"}
      assert.equal("unix", f:read(rd))
      assert.equal("windows", f:read(rd))
      assert.equal("mid\rline", f:read(rd))
      assert.equal("", f:read(rd))
      assert.equal("", f:read(rd))
      assert(f:write(wr, "out"))
      assert(frame.lines():write(wr, "lf"))
      assert.equal("out\r\nlf\n", rd.sock:recv(100))
    end)

    it("counts max without the line end, LF or CRLF", function()
      local rd, raw, _, _c <close> = pair()
      local f = frame.lines{max = 10}
      local ten, eleven = string.rep("a", 10), string.rep("b", 11)
      raw:send(ten .. "\n" .. ten .. "\r\n")
      assert.equal(ten, f:read(rd))
      assert.equal(ten, f:read(rd))
      raw:send(eleven .. "\r\n")
      assert.equal("EMSGSIZE", result(f:read(rd))[3])
    end)

    it("refuses CR or LF inside a message, writing nothing", function()
      local rd, _, wr, _c <close> = pair()
      local f = frame.lines()
      assert.same({nil, "a line cannot contain CR or LF", "EINVAL", n = 3},
                  result(f:write(wr, "two\nlines")))
      assert.equal("EINVAL", result(f:write(wr, "cr\r")) [3])
      assert_nothing_sent(rd:socket())
    end)

    it("buffers at most max plus one recv of an endless line", function()
      local rd, raw, _, _c <close> = pair()
      local f = frame.lines{max = 1000}
      raw:send(string.rep("z", 200000))
      assert.equal("EMSGSIZE", result(f:read(rd))[3])
      assert.is_true(rd:buffered() <= 1000 + 1 + stream.DEFAULT_CHUNK)
    end)

    it("keeps the stream's own line limit", function()
      local b, raw, _, _c <close> = pair()
      local rd = stream.new(b:socket(), {max_line = 5})
      raw:send(string.rep("x", 50) .. "\n" .. "abcdefg\n")
      assert.equal(string.rep("x", 50), frame.lines{max = 100}:read(rd))
      assert.equal("EMSGSIZE", select(3, rd:readline()))
    end)

    it("rejects a bad eol option", function()
      assert.has_error(function() frame.lines{eol = "\r"} end)
    end)
  end)

  describe("length", function()
    it("writes what string.pack writes, for sN and integer formats", function()
      local msg = "payload"
      for _, fmt in ipairs{"s4", "<s4", ">s4", ">s2", "s1", "s"} do
        assert.equal(string.pack(fmt, msg), encode(frame.length(fmt), msg), fmt)
      end
      for _, fmt in ipairs{">I2", "<I4", ">I8", ">i4", "B", "=I3", "j", "T"} do
        assert.equal(string.pack(fmt, #msg) .. msg, encode(frame.length(fmt), msg), fmt)
      end
    end)

    it("rejects 0xffffffff from the prefix alone, before any payload comes", function()
      local rd, raw, _, _c <close> = pair()
      raw:send(string.pack(">I4", 0xffffffff))   -- and nothing more
      assert.same({nil, "frame of 4294967295 bytes exceeds the limit of 1048576",
                   "EMSGSIZE", n = 3}, result(frame.length(">I4"):read(rd)))
      assert.equal(0, rd:buffered())
    end)

    it("rejects a length of max + 1 before its payload", function()
      local rd, raw, _, _c <close> = pair()
      raw:send(string.pack("<I4", 101))
      assert.equal("EMSGSIZE", result(frame.length("<I4", {max = 100}):read(rd))[3])
    end)

    it("rejects 8-byte lengths at and past 2^63 as too big", function()
      local rd, raw, _, _c <close> = pair()
      local f = frame.length(">I8")
      raw:send(string.rep("\xff", 8))
      assert.same({nil, "frame of 18446744073709551615 bytes exceeds the limit of 1048576",
                   "EMSGSIZE", n = 3}, result(f:read(rd)))
      raw:send(string.pack(">I8", math.mininteger))   -- 2^63
      assert.equal("EMSGSIZE", result(f:read(rd))[3])
      raw:send(string.pack(">I8", 1 << 62))
      assert.equal("EMSGSIZE", result(f:read(rd))[3])
      raw:send(string.pack(">I8", math.maxinteger))
      assert.equal("EMSGSIZE", result(f:read(rd))[3])
    end)

    it("rejects negative signed lengths as malformed", function()
      local rd, raw, _, _c <close> = pair()
      raw:send(string.pack(">i4", -5))
      assert.same({nil, "negative frame length -5", "EPROTO", n = 3},
                  result(frame.length(">i4"):read(rd)))
      raw:send(string.pack("<i8", math.mininteger))
      assert.equal("EPROTO", result(frame.length("<i8"):read(rd))[3])
      raw:send(string.pack("b", -1))
      assert.equal("EPROTO", result(frame.length("b"):read(rd))[3])
    end)

    it("handles 16-byte prefixes that do not fit a Lua integer", function()
      local rd, raw, _, _c <close> = pair()
      raw:send(string.rep("\xff", 16))
      assert.equal("EMSGSIZE", result(frame.length(">I16"):read(rd))[3])
      raw:send("\x80" .. string.rep("\0", 15))
      assert.equal("EPROTO", result(frame.length(">i16"):read(rd))[3])
      raw:send(string.rep("\0", 15) .. "\x80")
      assert.equal("EPROTO", result(frame.length("<i16"):read(rd))[3])
      raw:send("\x7f" .. string.rep("\0", 15))
      assert.equal("EMSGSIZE", result(frame.length(">i16"):read(rd))[3])
    end)

    it("caps max at what the prefix can carry", function()
      assert.equal(255, frame.length("B").max)
      assert.equal(127, frame.length("b").max)
      assert.equal(32767, frame.length(">i2").max)
      assert.equal(65535, frame.length(">s2", {max = 1 << 30}).max)
      assert.equal(frame.DEFAULT_MAX, frame.length(">I4").max)
      assert.equal(math.maxinteger, frame.length(">I8", {max = math.maxinteger}).max)
    end)

    it("raises for formats that are not one integer", function()
      for _, bad in ipairs{"z", ">I4I4", "d", "", ">I17", "c4", "I0", "!I4", " I4", "s0"} do
        assert.has_error(function() frame.length(bad) end, nil, bad)
      end
      assert.has_error(function() frame.length(4) end)
      assert.has_error(function() frame.length(">I4", {max = "big"}) end)
    end)
  end)

  describe("netstring", function()
    it("writes the djb form", function()
      assert.equal("12:hello world!,", encode(frame.netstring(), "hello world!"))
      assert.equal("0:,", encode(frame.netstring(), ""))
    end)

    local bad = {
      ["a leading zero"] = {"05:hello,", "EPROTO"},
      ["a zero length with a leading zero"] = {"00:,", "EPROTO"},
      ["a missing comma"] = {"5:hello;", "EPROTO"},
      ["a non-digit in the length"] = {"5x:hello,", "EPROTO"},
      ["a sign"] = {"-1:,", "EPROTO"},
      ["a space"] = {" 5:hello,", "EPROTO"},
      ["an empty length"] = {":hello,", "EPROTO"},
      ["a text line instead"] = {"GET / HTTP/1.1\r\n", "EPROTO"},
      ["100 digits and no colon yet"] = {string.rep("9", 100), "EMSGSIZE"},
      ["a length of max + 1 and no colon yet"] = {"101", "EMSGSIZE"},
      ["a length of max + 1"] = {"101:" .. string.rep("x", 101) .. ",", "EMSGSIZE"},
    }
    for what, case in pairs(bad) do
      it("rejects " .. what .. " without waiting for more", function()
        local rd, raw, _, _c <close> = pair()
        raw:send(case[1])                   -- the peer stays open and silent
        assert.equal(case[2], result(frame.netstring{max = 100}:read(rd))[3])
      end)
    end

    it("accepts 0:, and a length of exactly max", function()
      local rd, raw, _, _c <close> = pair()
      raw:send("0:,100:" .. string.rep("x", 100) .. ",")
      local f = frame.netstring{max = 100}
      assert.equal("", f:read(rd))
      assert.equal(string.rep("x", 100), f:read(rd))
    end)

    it("checks digits against a max near the integer limit without overflow", function()
      local rd, raw, _, _c <close> = pair()
      raw:send("99999999999999999999:")
      assert.equal("EMSGSIZE",
                   result(frame.netstring{max = math.maxinteger}:read(rd))[3])
    end)
  end)

  describe("fixed", function()
    it("reads and writes records of one size, refusing others", function()
      local rd, raw, wr, _c <close> = pair()
      local f = frame.fixed(4)
      assert.equal(4, f.max)
      assert(f:write(wr, "abcd"))
      assert.same({nil, "a record is 4 bytes, not 3", "EINVAL", n = 3},
                  result(f:write(wr, "abc")))
      raw:send("efgh")
      assert.equal("abcd", f:read(rd))
      assert.equal("efgh", f:read(rd))
      raw:send("ij")
      raw:close()
      assert.same({nil, "truncated frame", "EPROTO", "ij", n = 4}, result(f:read(rd)))
    end)

    it("raises for a size that is not a positive integer", function()
      for _, bad in ipairs{0, -1, 1.5, "4"} do
        assert.has_error(function() frame.fixed(bad) end)
      end
    end)
  end)

  it("passes a stream timeout through and reads on afterwards", function()
    local rd, raw, _, _c <close> = pair()
    rd:settimeout(0.01)
    raw:send(string.pack(">I2", 10) .. "abc")
    assert.equal("ETIMEDOUT", result(frame.length(">I2"):read(rd))[3])
    raw:send("defghij")
    rd:settimeout(helper.TIMEOUT)
    assert.equal("abcdefghij", frame.length(">I2"):read(rd))
  end)

  it("reports a write to a closed peer with the stream's error, not a signal", function()
    local rd, _, wr, _c <close> = pair()
    rd:socket():close()
    for _, f in ipairs{frame.lines(), frame.length(">I4"), frame.netstring(), frame.fixed(3)} do
      local r = result(f:write(wr, "abc"))
      assert.is_nil(r[1])
      assert.is_true(r[3] == "EPIPE" or r[3] == "ECONNRESET", tostring(r[3]))
      assert.equal(0, r[4])   -- bytes of the frame that went out
    end
  end)

  it("leaves the stream's own line limit alone when a waiting task is cancelled", function()
    local rd, raw, _, _c <close> = pair()
    loop.run(function()
      local t = loop.spawn(function() return frame.lines{max = 7}:read(rd) end)
      loop.sleep(0)
      t:cancel()   -- it waits inside readuntil, with its own limit
    end)
    local line = string.rep("x", 100)
    raw:send(line .. "\n")
    assert.equal(line, rd:readline())   -- the stream's limit, not 8
  end)

  it("serves many framed requests over TCP loopback inside loop tasks", function()
    local l <close>, port = helper.listener()
    local got = {}
    loop.run(function()
      local server = loop.spawn(function()
        local c <close> = assert(l:accept())
        local st, f = stream.new(c), frame.netstring()
        while true do
          local m = f:read(st)
          if not m then break end
          assert(f:write(st, m:upper()))
        end
      end)
      local c <close> = assert(core.socket("inet", "stream"))
      c:settimeout(helper.TIMEOUT)
      assert(c:connect("127.0.0.1", port))
      local st, f = stream.new(c), frame.netstring()
      for i = 1, 50 do
        assert(f:write(st, "message " .. i))
        got[i] = f:read(st)
      end
      c:shutdown("w")
      assert.same({nil, "closed", "EOF", n = 3}, result(f:read(st)))
      server:join()
    end)
    assert.equal(50, #got)
    assert.equal("MESSAGE 50", got[50])
  end)

  it("docs/frame.md examples print what their comments say", function()
    local text = assert(io.open("docs/frame.md")):read("a")
    -- print's tabs and the docs' spaces compare equal
    local function squeeze(s) return (s:gsub("%s+", " "):gsub(" $", "")) end
    local count = 0
    for code in text:gmatch("```lua\n(.-)```") do
      count = count + 1
      local want = {}
      for line in code:gmatch("[^\n]+") do
        local shown = line:match("%-%->%s?(.*)$")
        if shown then want[#want + 1] = squeeze(shown) end
      end
      local p = helper.run_lua(code)
      local out = p:read("a")
      assert.is_true(p:close(), "example " .. count .. " failed:\n" .. out)
      local lines = {}
      for line in out:gmatch("[^\n]*") do
        if line ~= "" then lines[#lines + 1] = squeeze(line) end
      end
      assert.same(want, lines, "example " .. count)
    end
    assert.is_true(count >= 4, "examples found: " .. count)
  end)
end)
