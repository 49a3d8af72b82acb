-- lunasock.http.body: readers and the chunked writer over a socketpair.
local core = require "lunasock.core"
local stream = require "lunasock.stream"
local body = require "lunasock.http.body"

-- A stream reading what `data` holds, then EOF.
local function feed(data)
  local a, b = assert(core.socketpair())
  a:settimeout(5)
  b:settimeout(5)
  local st = stream.new(b)
  if #data > 0 then assert(stream.new(a):write(data)) end
  a:close()
  return st, b
end

describe("lunasock.http.body", function()
  it("reads a fixed body, and reports a short one as closed", function()
    local st, _s <close> = feed("hello world")
    assert.are.equal("hello", body.readall(body.fixed(st, 5)))
    local r = body.fixed(st, 10)
    assert.are.same({nil, "closed"}, {select(1, body.readall(r)), select(3, body.readall(r))})
  end)

  it("reads a chunked body with extensions and trailers", function()
    local st, _s <close> = feed("5;a=b\r\nhello\r\n6\r\n world\r\n0\r\n"
                                .. "X-Sum: 1\r\nx-sum: 2\r\n\r\nNEXT")
    local r = body.chunked(st)
    assert.are.equal("hello world", body.readall(r))
    assert.is_true(r.done)
    assert.are.equal("1, 2", r.trailers["X-Sum"])
    assert.are.equal("NEXT", st:read(4))
  end)

  it("refuses bad framing with EPROTO and limits with EMSGSIZE", function()
    for _, raw in ipairs{"x\r\n", "5\r\nhelloXY", "1000000000000000\r\n", "5;\r\nhello\r\n",
                         "0\r\nA : b\r\n\r\n"} do
      local st, _s <close> = feed(raw)
      local _, _, code = body.readall(body.chunked(st))
      assert.are.equal("EPROTO", code, raw)
    end
    local st, _s <close> = feed("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n")
    assert.are.equal("EMSGSIZE", select(3, body.readall(body.chunked(st, {max_body = 7}))))
    local st2, _s2 <close> = feed("0\r\n" .. ("A: 1\r\n"):rep(40) .. "\r\n")
    assert.are.equal("EMSGSIZE", select(3, body.readall(body.chunked(st2))))
  end)

  it("issue 11: decodes 1-byte chunks into pieces of many bytes", function()
    local n = 20000
    local st, _s <close> = feed(("1\r\nx\r\n"):rep(n) .. "0\r\n\r\n")
    local r, pieces, total = body.chunked(st), 0, 0
    while true do
      local p = r()
      if not p then break end
      pieces, total = pieces + 1, total + #p
    end
    assert.are.equal(n, total)
    assert.is_true(pieces < n / 100, pieces .. " pieces")
  end)

  it("issue 11: readall holds the bytes, not a slot per piece", function()
    local i, n = 0, 200000
    local function reader()
      i = i + 1
      if i <= n then return string.char(65 + i % 26) end
    end
    collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    local b = body.readall(reader)
    local grew = (collectgarbage("count") - before) * 1024
    collectgarbage("restart")
    assert.are.equal(n, #b)
    assert.is_true(grew < 2e6, grew)   -- a slot per piece: 3+ MB with the growth
  end)

  it("writes a chunked body with trailers that reads back the same", function()
    local a, b = assert(core.socketpair())
    a:settimeout(5)
    b:settimeout(5)
    local w = body.chunked_writer(stream.new(a))
    assert(w:write("abc"))
    assert(w.write("de"))
    assert(w:finish{["X-T"] = "v"})
    a:close()
    local r = body.chunked(stream.new(b))
    assert.are.equal("abcde", body.readall(r))
    assert.are.equal("v", r.trailers["x-t"])
    assert.has_error(function() body.chunked_writer(stream.new(b)):finish{["bad name"] = 1} end)
    b:close()
  end)
end)
