-- lunasock.http.response: the one write_head, its fast path first.
local response = require "lunasock.http.response"

-- A connection that records what is written, through the socket (the
-- fast path's one send) or the stream (the general path).
local function recorder()
  local out = {}
  local sock = {
    send = function(_, data) out[#out + 1] = data return #data end,
    settimeout = function() end,
  }
  local st = {write = function(_, data) out[#out + 1] = data return true end}
  local conn = {sock = sock, stream = st, closing = false, timed = false, buf = "", pos = 1,
                out = false, server = {opts = {body_timeout = 1}, plain = true}}
  return conn, out
end

local function request(over)
  local r = {keep_alive = true, version = "1.1", method = "GET"}
  for k, v in pairs(over or {}) do r[k] = v end
  return r
end

describe("lunasock.http.response", function()
  it("sends the same bytes on the fast path as the general one", function()
    response.tick()
    for _, case in ipairs{{200, "hello world"}, {200, ""}, {404, "Not Found\n"},
                          {201, ("x"):rep(5000)}, {599, "odd"}} do
      local c1, fast = recorder()
      local c2, general = recorder()
      assert.are.equal("none", response.write_head(c1, request(), case[1], nil, case[2]))
      assert.are.equal("none", response.write_head(c2, request(), case[1], {}, case[2]))
      assert.are.equal(table.concat(general), table.concat(fast), case[1])
      assert.matches("\r\nContent%-Length: " .. #case[2] .. "\r\n", table.concat(fast))
    end
  end)

  it("whole() is the fast path's answer, and nil for what it does not take", function()
    response.tick()
    local c, out = recorder()
    assert.are.equal("none", response.write_head(c, request(), 201, nil, "made"))
    assert.are.equal(table.concat(out), response.whole(201, "made"))
    assert.is_nil(response.whole(204, ""))        -- no body: not the fast path
    assert.is_nil(response.whole(100, "x"))
    assert.is_nil(response.whole(200, 5))
    assert.is_nil(response.whole(799, "x"))       -- no reason phrase known
  end)

  it("takes the general path for HEAD, 1.0, close, 204 and header fields", function()
    response.tick()
    local c, out = recorder()
    response.write_head(c, request{method = "HEAD"}, 200, nil, "abc")
    local text = table.concat(out)
    assert.matches("Content%-Length: 3\r\n", text)
    assert.is_nil(text:find("abc", 1, true))
    c, out = recorder()
    response.write_head(c, request{version = "1.0", keep_alive = false}, 200, nil, "x")
    assert.matches("Connection: close\r\n", table.concat(out))
    assert.is_true(c.closing)
    c, out = recorder()
    response.write_head(c, request(), 204, nil, "")
    assert.is_nil(table.concat(out):find("Content-Length", 1, true))
  end)

  it("sets the Server field from SERVER, or the handler's own", function()
    response.tick()
    local old = response.SERVER
    local c, out = recorder()
    response.SERVER = "test/2"
    response.write_head(c, request(), 200, nil, "x")
    response.write_head(c, request(), 200, {Server = "mine"}, "x")
    response.SERVER = old
    local a, b = out[1], out[2]
    assert.matches("\r\nServer: test/2\r\n", a)
    assert.matches("\r\nServer: mine\r\n", b)
    assert.is_nil(b:find("test/2", 1, true))
  end)

  it("sends prepared fields as the same bytes, fast or general, and kept whole", function()
    response.tick()
    local fields = {["Content-Type"] = "text/html", ETag = '"1-2"', ["Content-Length"] = "5"}
    local prepared = response.prepare(fields)
    local c1, fast = recorder()
    local c2, general = recorder()
    assert.are.equal("none", response.write_head(c1, request(), 200, prepared, "hello"))
    assert.are.equal("none", response.write_head(c2, request(), 200, fields, "hello"))
    assert.are.equal(table.concat(general), table.concat(fast))
    assert.matches('\r\nETag: "1%-2"\r\n', fast[1])
    -- send: the first answer is made, the second is the one kept
    local c3, sent = recorder()
    assert.are.same({200, 5}, {response.send(c3, request(), true, 200, prepared, "hello")})
    assert.are.same({200, 5}, {response.send(c3, request(), true, 200, prepared, "hello")})
    assert.are.equal(2, #sent)
    assert.are.equal(fast[1], sent[1])
    assert.are.equal(fast[1], sent[2])
    -- a body of another length, or HEAD, takes the general path
    local c4, other = recorder()
    response.write_head(c4, request{method = "HEAD"}, 200, prepared, "")
    assert.matches("Content%-Length: 5\r\n", table.concat(other))
    assert.has_error(function()
      response.write_head(c4, request(), 200, prepared, "hello world")
    end)
  end)

  it("refuses to prepare fields it would refuse to send", function()
    assert.has_error(function() response.prepare{["Bad Name"] = 1} end)
    assert.has_error(function() response.prepare{X = "a\r\nb"} end)
    assert.has_error(function() response.prepare("X: 1") end)
  end)

  it("raises for a response that cannot be framed", function()
    local c = recorder()
    assert.has_error(function() response.write_head(c, request(), 200, {["Bad Name"] = 1}, "") end)
    assert.has_error(function() response.write_head(c, request(), 200, {["X"] = "a\nb"}, "") end)
    assert.has_error(function()
      response.write_head(c, request(), 204, {["Content-Length"] = 1})
    end)
    assert.has_error(function()
      response.write_head(c, request(), 200, {["Content-Length"] = 5}, "abc")
    end)
  end)
end)
