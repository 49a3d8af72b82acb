-- lunasock.stream: buffered reads, full writes, limits and timeouts.
local core = require "lunasock.core"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local helper = require "helper"

-- A stream over one end of a socketpair, and the other end (raw socket).
local function pair(opts)
  local a, b = assert(core.socketpair())
  a:settimeout(helper.TIMEOUT)
  b:settimeout(helper.TIMEOUT)
  return stream.new(a, opts), b
end

describe("lunasock.stream", function()
  it("readline returns lines without LF or CRLF", function()
    local s <close>, peer = pair()
    local _ <close> = peer
    assert(peer:send("one\ntwo\r\nthree"))
    peer:shutdown("w")
    assert.equal("one", s:readline())
    assert.equal("two", s:readline())
    assert.equal("three", s:readline())  -- last line without an end
    assert.same({nil, "closed", "EOF"}, {s:readline()})
  end)

  it("read(n) returns exactly n bytes across several recvs", function()
    local s <close>, peer = pair({chunk = 3})
    local _ <close> = peer
    assert(peer:send("abcdefghij"))
    assert.equal("ab", s:read(2))
    assert.equal("cdefgh", s:read(6))
    assert.is_true(s:buffered() <= 2)
    peer:close()
    local data, err, code, partial = s:read(5)
    assert.is_nil(data)
    assert.equal("closed", err)
    assert.equal("EOF", code)
    assert.equal("ij", partial)
  end)

  it("read() returns what is buffered or one recv", function()
    local s <close>, peer = pair()
    local _ <close> = peer
    assert(peer:send("xyz"))
    assert.equal("xyz", s:read())
  end)

  it("fill appends one recv to the buffer and keeps it at EOF and on timeout", function()
    local s <close>, peer = pair({chunk = 4})
    local _ <close> = peer
    assert(peer:send("abcdef"))
    assert.is_true(s:fill())
    assert.equal("abcd", s.buf:sub(s.pos))   -- one recv of the chunk size
    s.pos = s.pos + 2                          -- a parser consumed "ab"
    assert.is_true(s:fill())
    assert.equal("cdef", s.buf:sub(s.pos))
    s:settimeout(0)
    assert.same({nil, "Resource temporarily unavailable", "EAGAIN"}, {s:fill()})
    assert.equal("cdef", s.buf:sub(s.pos))
    peer:shutdown("w")
    s:settimeout(helper.TIMEOUT)
    assert.same({nil, "closed", "EOF"}, {s:fill()})
    assert.equal("cdef", s:read(4))
  end)

  it("readuntil finds a delimiter split across reads", function()
    local s <close>, peer = pair({chunk = 2})
    local _ <close> = peer
    assert(peer:send("key=value--END--rest"))
    assert.equal("key=value", s:readuntil("--END--"))
    assert.equal("rest", s:read(4))
  end)

  it("readall reads to EOF", function()
    local s <close>, peer = pair({chunk = 7})
    assert(peer:send(string.rep("x", 1000)))
    peer:close()
    assert.equal(string.rep("x", 1000), s:readall())
    assert.same({nil, "closed", "EOF"}, {s:readline()})
  end)

  it("refuses a line longer than max_line", function()
    local s <close>, peer = pair({max_line = 10, chunk = 4})
    local _ <close> = peer
    assert(peer:send(string.rep("a", 40) .. "\n"))
    local line, err, code = s:readline()
    assert.is_nil(line)
    assert.equal("line too long", err)
    assert.equal("EMSGSIZE", code)
  end)

  it("holds the line limit exactly, even for a line that came in one recv", function()
    local s <close>, peer = pair({max_line = 10, chunk = 4096})
    local _ <close> = peer
    assert(peer:send(string.rep("b", 10) .. "\n" .. string.rep("c", 11) .. "\n"))
    assert.equal(string.rep("b", 10), s:readline())
    assert.same({nil, "line too long", "EMSGSIZE"}, {s:readline()})
  end)

  it("times out with ETIMEDOUT and keeps the partial data", function()
    local s <close>, peer = pair()
    local _ <close> = peer
    s:settimeout(0.02)
    assert(peer:send("no newline yet"))
    local line, _, code, partial = s:readline()
    assert.is_nil(line)
    assert.equal("ETIMEDOUT", code)
    assert.equal("no newline yet", partial)
  end)

  it("write sends everything, concatenating its arguments", function()
    local s <close>, peer = pair()
    local _ <close> = peer
    assert.is_true(s:write("a", "b", 42, "\n"))
    assert.is_true(s:flush())
    assert.equal("ab42\n", peer:recv(10))
  end)

  it("write reports how much went out when the peer is gone", function()
    local s <close>, peer = pair()
    peer:close()
    local ok, _, code, sent = s:write("data")
    assert.is_nil(ok)
    assert.equal("EPIPE", code)
    assert.equal(0, sent)
  end)

  it("writes a large buffer fully while a loop task reads it", function()
    local big = string.rep("0123456789", 200000)  -- 2 MB, beyond socket buffers
    loop.run(function()
      local a, b = assert(core.socketpair())
      local _ <close> = helper.closing(a, b)
      local reader = loop.spawn(function()
        local s = stream.new(b)
        return s:read(#big)
      end)
      assert.is_true(stream.new(a):write(big))
      assert.equal(big, reader:join())
    end)
  end)

  it("lines() iterates to EOF", function()
    local s <close>, peer = pair()
    assert(peer:send("a\nb\nc\n"))
    peer:close()
    local got = {}
    for line in s:lines() do got[#got + 1] = line end
    assert.same({"a", "b", "c"}, got)
  end)

  it("raises on bad arguments", function()
    local s <close>, peer = pair()
    local _ <close> = peer
    assert.has_error(function() s:read(-1) end)
    assert.has_error(function() s:read(1.5) end)
    assert.has_error(function() s:readuntil("") end)
    assert.has_error(function() stream.new(nil) end)
    assert.has_error(function() stream.new(5) end,   -- was taken, to fail on first read
                     "bad argument #1 to 'new' (socket expected, got number)")
  end)

  it("raises on unknown or bad options", function()
    local a, b = assert(core.socketpair())
    local _ <close> = helper.closing(a, b)
    assert.has_error(function() stream.new(a, {chunks = 3}) end,
                     "unknown stream option 'chunks' to 'stream.new'")
    assert.has_error(function() stream.new(a, {write_buffer = 0}) end)
    assert.has_error(function() stream.new(a, {max_line = 1.5}) end)
    assert.has_error(function() stream.new(a, {timeout = 0/0}) end)
  end)

  -- write(line, "\n") with line nil sent "nil\n"; a table "table: 0x..."
  it("readline and settimeout raise for a bad number naming themselves, at the caller", function()
    -- readline(0/0) raised "bad argument #2 to 'readuntil'" and
    -- settimeout(-1) an error located inside stream.lua
    local a, b = assert(core.socketpair())
    local _ <close> = helper.closing(a, b)
    local s = stream.new(b, {timeout = helper.TIMEOUT})
    local ok, err = pcall(function() local r = s:readline(0 / 0) return r end)
    assert.is_false(ok)
    assert.matches("^spec/stream_spec%.lua:%d+: bad argument #1 to 'readline'", err)
    ok, err = pcall(function() local r = s:settimeout(-1) return r end)
    assert.is_false(ok)
    assert.matches("^spec/stream_spec%.lua:%d+: bad argument #1 to 'settimeout'", err)
    assert.equal(s, s:settimeout(nil))
    assert.is_nil(b:gettimeout())
  end)

  it("writes numbers as text and raises for any other non-string, buffered or not", function()
    local a, b = assert(core.socketpair())
    local _ <close> = helper.closing(a, b)
    b:settimeout(helper.TIMEOUT)
    for _, wb in ipairs{false, true} do
      local s = stream.new(a, {write_buffer = wb})
      assert.has_error(function() s:write(nil) end,
                       "bad argument #1 to 'write' (string expected, got nil)")
      assert.has_error(function() s:write("x", {}) end,
                       "bad argument #2 to 'write' (string expected, got table)")
      assert.has_error(function() s:write(true) end,
                       "bad argument #1 to 'write' (string expected, got boolean)")
      assert(s:write(1, " ", 2.5, "\n"))
      assert(s:flush())
      assert.equal("1 2.5\n", b:recv(100))
    end
  end)

  -- A socket stand-in that hands out data one byte per recv, as a peer
  -- sending one byte per segment makes a real one do.
  local function trickle(data)
    local i = 0
    return {
      recv = function(_, n)
        assert(n >= 1)
        if i >= #data then return "" end
        i = i + 1
        return data:sub(i, i)
      end,
      send = function(_, d) return #d end,
      settimeout = function() end,
      close = function() return true end,
    }
  end

  -- Bytes allocated while fn runs, the collector stopped: copying the
  -- buffer on every recv would allocate some n^2/2 bytes.
  local function allocated(fn)
    collectgarbage("collect")
    collectgarbage("stop")
    local before = collectgarbage("count")
    local r = table.pack(fn())
    local kb = collectgarbage("count") - before
    collectgarbage("restart")
    return kb * 1024, table.unpack(r, 1, r.n)
  end

  describe("issue 11 #2: O(bytes) however bytes arrive", function()
    local N = 32768   -- n^2/2 would be 512 MiB of copies

    it("readuntil of a long line sent one byte per recv", function()
      local line = string.rep("x", N)
      local s = stream.new(trickle(line .. "\r\n\r\nrest"), {max_line = 2 * N})
      local bytes, got = allocated(function() return s:readuntil("\r\n\r\n") end)
      assert.equal(line, got)
      assert.equal("rest", s:read(4))
      assert.is_true(bytes < 64 * N, "allocated " .. bytes .. " bytes")
    end)

    it("read(n) of a large frame sent one byte per recv", function()
      local frame = string.rep("abcdefgh", N // 8)
      local s = stream.new(trickle(frame .. "z"))
      local bytes, got = allocated(function() return s:read(N) end)
      assert.equal(frame, got)
      assert.equal("z", s:read(1))
      assert.is_true(bytes < 64 * N, "allocated " .. bytes .. " bytes")
    end)

    it("readall and find over one byte per recv", function()
      local data = string.rep("0123456789", N // 10)
      local s = stream.new(trickle(data .. "END" .. data))
      local bytes, n = allocated(function() return s:find("END", 4 * N) end)
      assert.equal(#data + 3, n)
      assert.is_true(bytes < 64 * N, "allocated " .. bytes .. " bytes")
      bytes = allocated(function() return s:readall() end)
      assert.is_true(bytes < 64 * N, "allocated " .. bytes .. " bytes")
    end)

    it("finds a delimiter that straddles pieces", function()
      for _, delim in ipairs{"\n", "\r\n", "\r\n\r\n", "--boundary--"} do
        local s = stream.new(trickle("abc" .. delim .. "def" .. delim))
        assert.equal("abc", s:readuntil(delim))
        assert.equal("def", s:readuntil(delim))
        assert.same({nil, "closed", "EOF"}, {s:readuntil(delim)})
      end
    end)

    it("readuntil agrees with a plain split, whatever the piece sizes", function()
      local rand = 12345   -- a fixed LCG: the same cases every run
      local function random(lo, hi)
        rand = (rand * 1103515245 + 12345) % 2147483648
        return lo + rand % (hi - lo + 1)
      end
      local alphabet = {"a", "b", "\r", "\n", "-", "x"}
      for _ = 1, 300 do
        local delim = ({"\n", "\r\n", "\r\n\r\n", "ab", "aba", "--x--"})[random(1, 6)]
        local text = {}
        for k = 1, random(1, 20) do
          local t = {}
          for q = 1, random(0, 30) do t[q] = alphabet[random(1, 6)] end
          text[k] = table.concat(t)
        end
        local whole = table.concat(text, delim) .. delim
        local expect, at = {}, 1
        while true do
          local i, j = whole:find(delim, at, true)
          if not i then break end
          expect[#expect + 1] = whole:sub(at, i - 1)
          at = j + 1
        end
        local pos = 1
        local st = stream.new({recv = function()
          if pos > #whole then return "" end
          local n = random(1, 5)
          pos = pos + n
          return whole:sub(pos - n, pos - 1)
        end}, {max_line = 100000})
        for k = 1, #expect do assert.equal(expect[k], st:readuntil(delim)) end
      end
    end)

    it("refuses a line past its limit while it trickles in", function()
      local s = stream.new(trickle(string.rep("y", 100) .. "\n"))
      assert.same({nil, "line too long", "EMSGSIZE"}, {s:readuntil("\n", 10)})
      assert.is_true(s:buffered() <= 12)
    end)
  end)

  describe("the parser API", function()
    it("readuntil takes a limit for one call", function()
      local s <close>, peer = pair()
      local _ <close> = peer
      assert(peer:send("0123456789\n01234\n"))
      assert.same({nil, "line too long", "EMSGSIZE"}, {s:readuntil("\n", 5)})
      assert.equal("0123456789", s:readuntil("\n"))     -- nothing was lost
      assert.equal("01234", s:readuntil("\n", 5))
    end)

    it("unread puts bytes back in front", function()
      local s <close>, peer = pair()
      local _ <close> = peer
      assert(peer:send("world\n"))
      assert.equal("w", s:read(1))
      s:unread("w")
      s:unread("hello ")
      assert.equal("hello world", s:readline())
      s:unread("again")
      assert.equal(5, s:buffered())
      assert.equal("again", s:read(5))
      assert.has_error(function() s:unread(5) end)
    end)

    it("find waits for a delimiter and consumes nothing; buffer and skip scan", function()
      local s <close>, peer = pair({chunk = 2})
      local _ <close> = peer
      assert(peer:send("GET / HTTP/1.1\r\nHost: x\r\n\r\nnext"))
      local n = s:find("\r\n\r\n", 1024)
      assert.equal(27, n)
      local data, first = s:buffer()
      assert.equal("GET / HTTP/1.1\r\nHost: x\r\n\r\n", data:sub(first, first + n - 1))
      assert.is_true(s:skip(n))
      assert.equal("next", s:read(4))
      assert.has_error(function() s:skip(1) end)   -- more than is buffered
      assert.same({nil, "line too long", "EMSGSIZE"},
                  {(function() peer:send("abcdef") return s:find("\n", 3) end)()})
      assert.equal("abcd", s:read(4))             -- find took nothing
    end)

    it("fill appends one recv, which buffer() shows", function()
      local s <close>, peer = pair()
      local _ <close> = peer
      assert(peer:send("ab"))
      assert.is_true(s:fill())
      local data, first = s:buffer()
      assert.equal("ab", data:sub(first))
      assert(peer:send("cd"))
      assert.is_true(s:fill())
      data, first = s:buffer()
      assert.equal("abcd", data:sub(first))
    end)

    it("socket() returns the socket", function()
      local a, b = assert(core.socketpair())
      local _ <close> = helper.closing(a, b)
      assert.equal(a, stream.new(a):socket())
    end)
  end)

  describe("buffered writes", function()
    it("holds writes until flush", function()
      local s <close>, peer = pair({write_buffer = true})
      local _ <close> = peer
      assert.is_true(s:write("a", "b", 1))
      assert.equal(3, s:pending())
      local got, _, code = peer:recv(10, core.MSG_DONTWAIT)
      assert.is_nil(got)
      assert.equal("EAGAIN", code)
      assert.is_true(s:flush())
      assert.equal(0, s:pending())
      assert.equal("ab1", peer:recv(10))
    end)

    it("sends once write_buffer bytes are held", function()
      local s <close>, peer = pair({write_buffer = 8})
      local _ <close> = peer
      assert.is_true(s:write("1234"))
      assert.is_true(s:write("5678"))
      assert.equal(0, s:pending())
      assert.equal("12345678", peer:recv(10))
    end)

    it("flushes before waiting to read, so a request/reply never deadlocks", function()
      loop.run(function()
        local a, b = assert(core.socketpair())
        local _ <close> = helper.closing(a, b)
        local server = loop.spawn(function()
          local st = stream.new(b, {write_buffer = true})
          for line in st:lines() do st:write("re: ", line, "\n") end
          st:close()
        end)
        local c = stream.new(a, {write_buffer = true, timeout = helper.TIMEOUT})
        for i = 1, 3 do
          c:write("q", i, "\n")
          assert.equal("re: q" .. i, c:readline())
        end
        c:write("p1\np2\n")               -- pipelined: two replies, in order
        assert.equal("re: p1", c:readline())
        assert.equal("re: p2", c:readline())
        a:shutdown("w")
        server:join()
      end)
    end)

    it("close sends what is held", function()
      local a, b = assert(core.socketpair())
      local _ <close> = helper.closing(a, b)
      local s = stream.new(a, {write_buffer = true})
      s:write("bye")
      s:close()
      b:settimeout(helper.TIMEOUT)
      assert.equal("bye", b:recv(10))
      assert.equal("", b:recv(10))
    end)

    it("close reports held writes it could not send, and closes all the same", function()
      -- it returned true: 10 MB held for a peer that did not read were
      -- dropped without a word
      local a, b = assert(core.socketpair())
      local _ <close> = helper.closing(a, b)
      local s = stream.new(a, {write_buffer = 1 << 30, timeout = 0.05})
      assert.is_true(s:write(("x"):rep(10 * 1024 * 1024)))
      local ok, _, code, sent = s:close()
      assert.is_nil(ok)
      assert.equal("ETIMEDOUT", code)
      assert.is_true(sent > 0 and sent < 10 * 1024 * 1024)
      assert.equal("closed socket", core.type(a))
      local c, d = assert(core.socketpair())
      local _ <close> = helper.closing(c, d)
      d:close()
      s = stream.new(c, {write_buffer = true})
      s:write("bye")
      local r = table.pack(s:close())
      assert.same({nil, "EPIPE", 0}, {r[1], r[3], r[4]})
      assert.equal("closed socket", core.type(c))
      assert.is_true(s:close())   -- again: nothing held, already closed
    end)

    it("reports a failed flush with how much went out", function()
      local a, b = assert(core.socketpair())
      local _ <close> = helper.closing(a, b)
      b:close()
      local s = stream.new(a, {write_buffer = true})
      s:write("xyz")
      local ok, _, code, sent = s:flush()
      assert.is_nil(ok)
      assert.is_true(code == "EPIPE" or code == "ECONNRESET", tostring(code))
      assert.equal(0, sent)
    end)
  end)
end)
