-- core.http_head: the C split of an HTTP request head. It must agree with
-- lunasock.http.parse (the source of truth) on every head it accepts, hand
-- every other head back, and survive hostile input.
local core = require "lunasock.core"
local parse = require "lunasock.http.parse"

local http_head = core.http_head

-- What the server does with a complete head: the C split, then
-- parse.fields; or parse.request on a head handed back.
local function via_c(buf)
  local fields = {}
  local stop, method, target, minor, n = http_head(buf, 1, 65536, fields)
  if stop then return parse.fields(method, target, minor, fields, n) end
  assert.is_false(stop)
  return parse.request(buf:sub(method, target))
end

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if k ~= "headers" and b[k] ~= v then return false end
  end
  for k, v in pairs(b) do
    if k ~= "headers" and a[k] ~= v then return false end
  end
  for k, v in pairs(a.headers) do if b.headers[k] ~= v then return false end end
  for k, v in pairs(b.headers) do if a.headers[k] ~= v then return false end end
  return true
end

describe("core.http_head", function()
  it("splits a strict head: stop, method, target, minor, lower-cased fields", function()
    local fields = {}
    local buf = "GET /a?b HTTP/1.1\r\nHost: x\r\nX-Tag: \t v 1 \t\r\nEmpty:\r\n\r\nrest"
    local stop, method, target, minor, n = http_head(buf, 1, 8192, fields)
    assert.are.equal(#buf - 3, stop)
    assert.are.equal("rest", buf:sub(stop))
    assert.are.same({"GET", "/a?b", "1", 3}, {method, target, minor, n})
    assert.are.same({"host", "x", "x-tag", "v 1", "empty", ""}, fields)
  end)

  it("starts at init, skips empty lines before the head, and reuses fields", function()
    local fields = {"old1", "old2", "old3", "old4", "keep"}
    local buf = "xxGET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n\r\nPUT /p HTTP/1.0\r\n\r\n"
    local stop, method, _, minor, n = http_head(buf, 3, 8192, fields)
    assert.are.same({"GET", "1", 1}, {method, minor, n})
    assert.are.same({"host", "a", "old3", "old4", "keep"}, fields)
    local stop2, method2, target2, minor2, n2 = http_head(buf, stop, 8192, fields)
    assert.are.same({#buf + 1, "PUT", "/p", "0", 0}, {stop2, method2, target2, minor2, n2})
  end)

  it("returns nil until the head is complete, and EMSGSIZE past the limit", function()
    local buf = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    for i = 0, #buf - 1 do
      assert.is_nil((http_head(buf:sub(1, i) .. "", 1, 8192, {})))
      assert.is_nil(select(2, http_head(buf:sub(1, i), 1, 8192, {})))
    end
    assert.is_nil(http_head(buf, #buf + 1, 8192, {}))
    assert.are.same({nil, "EMSGSIZE"}, {http_head(("a"):rep(100), 1, 50, {})})
    assert.are.same({nil, "EMSGSIZE"}, {http_head(buf, 1, 10, {})})
    assert.are.equal(#buf + 1, (http_head(buf, 1, #buf - 4, {})))
  end)

  it("returns nil, EPROTO at a bare LF before the end, not after it", function()
    for _, buf in ipairs{"GET / HTTP/1.1\nHost: x\n\n", "\n", "GET / HTTP/1.1\r\n\n",
                         "GET / HTTP/1.1\r\nHost: x\n"} do
      assert.are.same({nil, "EPROTO"}, {http_head(buf, 1, 8192, {})})
    end
    local buf = "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody\nwith\n\nLFs"
    assert.are.equal(28, (http_head(buf, 1, 8192, {})))
  end)

  it("hands back every head outside the strict form, for parse.request", function()
    for _, head in ipairs{
      "get / HTTP/1.1\r\nHost: x", "GET  / HTTP/1.1\r\nHost: x", "GET / HTTP/1.2\r\nHost: x",
      "GET / HTTP/2.0\r\nHost: x", "GET / http/1.1\r\nHost: x", "GET /\tx HTTP/1.1\r\nHost: x",
      "GET / HTTP/1.1\r\nHost : x", "GET / HTTP/1.1\r\nHost: x\r\n folded",
      "GET / HTTP/1.1\r\nHost: a\rb", "GET / HTTP/1.1\r\nHost: a\0b",
      "GET / HTTP/1.1\r\nHost: a\127", "GET / HTTP/1.1\r\n: x", "GET / HTTP/1.1\r\nNoColon",
      "GET / HTTP/1.1\r\n" .. ("n"):rep(300) .. ": x", "GET /\128 HTTP/1.1\r\nHost: x",
      "GET / HTTP/1.1 \r\nHost: x", "GET", "\r", "GET / HTTP/1.1\r",
    } do
      local buf = head .. "\r\n\r\n"
      local stop, first, last = http_head(buf, 1, 8192, {})
      assert.is_false(stop, head)
      assert.are.equal(head:gsub("^\r\n", ""), buf:sub(first, last))
    end
  end)

  it("agrees with parse.request on every head, strict or not", function()
    local heads = {
      "GET / HTTP/1.1\r\nHost: x", "GET / HTTP/1.0", "GET /p?q=1 HTTP/1.1\r\nHost: h:80",
      "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5", "DELETE * HTTP/1.1\r\nHost: x",
      "OPTIONS * HTTP/1.1\r\nHost: x", "GET http://a/b?c HTTP/1.1\r\nHost: a",
      "GET / HTTP/1.1\r\nHost: x\r\nHost: y", "GET / HTTP/1.1\r\nhost: x\r\nX: 1\r\nx: 2",
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close", "GET / HTTP/1.0\r\nConnection: Keep-Alive",
      "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked",
      "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue", "GET / HTTP/1.1\r\nHost: x y",
      "GET /#f HTTP/1.1\r\nHost: x", "BREW / HTTP/1.1\r\nHost: x", "get / HTTP/1.1\r\nHost: x",
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5", "GET / HTTP/1.1\r\nHost: x\r\nA:\tb\t",
      "GET / HTTP/1.1\r\nHost: \128\255", "GET / HTTP/1.1\r\nX-A: \128\255",
    }
    for _, head in ipairs(heads) do
      local a = table.pack(parse.request(head))
      local b = table.pack(via_c(head .. "\r\n\r\n"))
      if a[1] then
        assert.is_true(same(a[1], b[1]), head)
      else
        assert.are.same({a[2], a[3]}, {b[2], b[3]}, head)
      end
    end
  end)

  it("survives hostile input: random bytes, long runs, every split point", function()
    math.randomseed(20261202)
    local alphabet = {"\r", "\n", "\r\n", " ", ":", "\t", "\0", "\127", "\255", "G", "a",
                      "HTTP/1.1", "GET / ", "\r\n\r\n", "Host: x"}
    for _ = 1, 3000 do
      local parts = {}
      for j = 1, math.random(0, 30) do parts[j] = alphabet[math.random(#alphabet)] end
      local buf = table.concat(parts)
      local fields = {}
      local r = table.pack(pcall(http_head, buf, math.random(1, #buf + 2), math.random(0, 64),
                                 fields))
      assert.is_true(r[1], buf)
      if r[2] then  -- accepted: the split must be what parse.fields can take
        assert.is_true(math.type(r[6]) == "integer" and r[6] >= 0)
        for i = 1, 2 * r[6] do assert.is_string(fields[i]) end
      end
    end
    local huge = ("GET / HTTP/1.1\r\n" .. ("X-A: " .. ("v"):rep(1000) .. "\r\n"):rep(200))
    local stop, _, _, _, n = http_head(huge .. "\r\n", 1, #huge + 10, {})
    assert.are.equal(#huge + 3, stop)
    assert.are.equal(200, n)
    assert.are.same({nil, "EMSGSIZE"}, {http_head(("\r\n"):rep(100000) .. "x", 1, 1000, {})})
  end)

  it("raises on misuse", function()
    assert.has_error(function() http_head() end)
    assert.has_error(function() http_head("x", 0, 1, {}) end)
    assert.has_error(function() http_head("x", 1, -1, {}) end)
    assert.has_error(function() http_head("x", 1, 1, "t") end)
    assert.has_error(function() http_head({}, 1, 1, {}) end)
  end)
end)
