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
  end)
end)
