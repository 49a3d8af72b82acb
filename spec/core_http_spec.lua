-- core.http_request, http_response, http_trailers, http_chunked: the one
-- HTTP/1.1 wire grammar (csrc/http_parse.c) as Lua sees it. Each reason
-- code the grammar can give has an `it` that provokes it.
local core = require "lunasock.core"

local http_request, http_response = core.http_request, core.http_response
local http_trailers, http_chunked = core.http_trailers, core.http_chunked

local function req(buf, max_line, max_head, max_fields)
  return http_request(buf, 1, 0, max_line or 8192, max_head or 32768, max_fields or 100, true)
end

local function res(buf, max_line, max_head, max_fields)
  return http_response(buf, 1, 0, max_line or 8192, max_head or 65536, max_fields or 100)
end

-- the reason a request head (with its final CRLF CRLF added) gets
local function reason(head, ...)
  local stop, why = req(head .. "\r\n\r\n", ...)
  assert.is_nil(stop, head)
  return why
end

describe("core.http_request", function()
  it("parses a head: stop, method, target, minor, lower-cased fields, mask, '?'", function()
    local buf = "GET /a?b HTTP/1.1\r\nHost: x\r\nX-Tag: \t v 1 \t\r\nEmpty:\r\n\r\nrest"
    local stop, method, target, minor, fields, mask, q = req(buf)
    assert.are.equal("rest", buf:sub(stop))
    assert.are.same({"GET", "/a?b", 1}, {method, target, minor})
    assert.are.same({"host", "x", "x-tag", "v 1", "empty", ""}, fields)
    assert.are.equal(1 | 256, mask)    -- Host, once, valid; origin-form
    assert.are.equal(3, q)
  end)

  it("makes the field list only when asked or when a field the server reads is there", function()
    local buf = "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: y\r\n\r\n"
    assert.is_false((select(5, http_request(buf, 1, 0, 8192, 32768, 100))))
    assert.are.same({"host", "x", "user-agent", "y"},
                    (select(5, http_request(buf, 1, 0, 8192, 32768, 100, true))))
    buf = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert.are.same({"host", "x", "connection", "close"},
                    (select(5, http_request(buf, 1, 0, 8192, 32768, 100))))
  end)

  it("flags the fields a server must look at in its mask", function()
    local function mask_of(fields)
      return select(6, req("POST /#f HTTP/1.0\r\n" .. fields .. "\r\n\r\n")) & ~256
    end
    assert.are.equal(128, mask_of("X: 1"))
    assert.are.equal(256, select(6, req("GET /x HTTP/1.0\r\n\r\n")))
    assert.are.equal(0, select(6, req("GET * HTTP/1.0\r\n\r\n")))
    assert.are.equal(128 | 1 | 2, mask_of("Host: a\r\nhost: b"))
    assert.are.equal(128 | 1 | 4, mask_of("Host: a b"))
    assert.are.equal(128 | 8 | 16 | 32 | 64, mask_of("content-length: 1\r\nTRANSFER-ENCODING: x"
                                                   .. "\r\nConnection: c\r\nExpect: e"))
    for _, name in ipairs{"If-Match", "if-none-match", "If-Modified-Since",
                          "IF-UNMODIFIED-SINCE", "If-Range", "Range"} do
      assert.are.equal(128 | 512, mask_of(name .. ": x"), name)
    end
    assert.are.equal(128, mask_of("If-Matches: x\r\nRanges: y"))
    -- a precondition field makes the field list, as the ones about framing do
    local fields = select(5, req("GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=1-\r\n\r\n"))
    assert.are.same({"host", "x", "range", "bytes=1-"}, fields)
  end)

  it("skips empty lines before the request line", function()
    local buf = "\r\n\r\nGET / HTTP/1.0\r\n\r\nPUT /p HTTP/1.1\r\nHost: h\r\n\r\n"
    local stop, method = req(buf)
    assert.are.equal("GET", method)
    local stop2, method2, target2 = http_request(buf, stop, 0, 8192, 32768, 100)
    assert.are.same({#buf + 1, "PUT", "/p"}, {stop2, method2, target2})
  end)

  it("needs more until the head is complete, resuming with the state it returns", function()
    local buf = "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
    local state = 0
    for i = 0, #buf - 1 do
      local r, s = http_request(buf:sub(1, i), 1, state, 8192, 32768, 100)
      assert.is_false(r, i)
      assert.is_number(s)
      state = s
    end
    assert.are.equal(#buf + 1, (http_request(buf, 1, state, 8192, 32768, 100)))
  end)

  it("scans a head that trickles in once, not once per byte (linear)", function()
    -- The state says where the next call resumes: (skipped << 32) | offset.
    -- Resuming at the end of what was given means no byte is scanned twice
    -- (counted, not timed: a timed spec fails under valgrind).
    local head = "GET / HTTP/1.1\r\n" .. ("X-A: " .. ("v"):rep(20) .. "\r\n"):rep(40)
    local state = 0
    for i = 1, #head do
      local r, s = http_request(head:sub(1, i), 1, state, 8192, 65536, 1000)
      assert.is_false(r)
      assert.are.equal(i, s & 0xffffffff, "resumes at the end of the input")
      state = s
    end
  end)

  it("BARE_LF: a LF without CR, as soon as it comes", function()
    assert.are.same({nil, "BARE_LF"}, {req("GET / HTTP/1.1\nHo")})
    assert.are.same({nil, "BARE_LF"}, {req("\n")})
    assert.are.same({nil, "BARE_LF"}, {req("GET / HTTP/1.1\r\nHost: x\n")})
    local buf = "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody\nwith\n\nLFs"
    assert.are.equal(28, (req(buf)))
  end)

  it("BARE_CR: a CR not followed by LF", function()
    assert.are.equal("BARE_CR", reason("GET / HTTP/1.1\r\nHost: a\rb"))
  end)

  it("INVALID_METHOD: a method that is not a token, or a bad separator", function()
    for _, h in ipairs{"GE(T / HTTP/1.1", "GET\t/ HTTP/1.1", " GET / HTTP/1.1", "GET"} do
      assert.are.equal("INVALID_METHOD", reason(h), h)
    end
  end)

  it("INVALID_TARGET: empty, two spaces, a control, a space or non-ASCII byte", function()
    for _, h in ipairs{"GET  / HTTP/1.1", "GET /a\1b HTTP/1.1", "GET /\128 HTTP/1.1", "GET /"} do
      assert.are.equal("INVALID_TARGET", reason(h), h)
    end
  end)

  it("INVALID_VERSION: not HTTP/DIGIT.DIGIT right before the CRLF", function()
    for _, h in ipairs{"GET / http/1.1", "GET / HTTP/1.10", "GET / HTTP/1.1 ", "GET / HTTP/1",
                       "GET / a b"} do
      assert.are.equal("INVALID_VERSION", reason(h), h)
    end
  end)

  it("UNSUPPORTED_VERSION: another major version", function()
    assert.are.equal("UNSUPPORTED_VERSION", reason("GET / HTTP/2.0"))
    assert.are.equal("UNSUPPORTED_VERSION", reason("GET / HTTP/0.9"))
    assert.are.equal(9, select(4, req("GET / HTTP/1.9\r\n\r\n")))
  end)

  it("LINE_TOO_LONG: a request line past max_line, before the head ends", function()
    local line = "GET /" .. ("a"):rep(100) .. " HTTP/1.1"
    assert.are.equal("LINE_TOO_LONG", reason(line, 50))
    assert.are.equal(#line + 5, (req(line .. "\r\n\r\n", #line)))
    -- no line end yet, but already longer than a line may be
    assert.are.same({nil, "LINE_TOO_LONG"}, {req(line, 50)})
  end)

  it("HEAD_TOO_LARGE: more than max_head bytes without the end, or a longer head", function()
    local head = "GET / HTTP/1.1\r\nX: " .. ("v"):rep(100)
    assert.are.same({nil, "HEAD_TOO_LARGE"}, {req(head, 8192, 50)})
    assert.are.equal("HEAD_TOO_LARGE", reason(head, 8192, 50))
    assert.are.equal(#head + 5, (req(head .. "\r\n\r\n", 8192, #head)))
    assert.are.same({nil, "HEAD_TOO_LARGE"}, {req(("\r\n"):rep(100000) .. "x", 8192, 1000)})
  end)

  it("TOO_MANY_FIELDS: more fields than max_fields", function()
    local head = "GET / HTTP/1.1" .. ("\r\nX: 1"):rep(11)
    assert.are.equal("TOO_MANY_FIELDS", reason(head, 8192, 32768, 10))
    assert.are.equal(11, #select(5, req(head .. "\r\n\r\n", 8192, 32768, 11)) // 2)
    -- more than fit on the C stack
    assert.are.equal(300, #select(5, req("GET / HTTP/1.1" .. ("\r\nX: 1"):rep(300) .. "\r\n\r\n",
                                          8192, 32768, 300)) // 2)
  end)

  it("OBS_FOLD: a field line starting with SP or HTAB", function()
    assert.are.equal("OBS_FOLD", reason("GET / HTTP/1.1\r\nA: 1\r\n 2"))
    assert.are.equal("OBS_FOLD", reason("GET / HTTP/1.1\r\nA: 1\r\n\t2"))
  end)

  it("INVALID_FIELD_NAME: empty, no colon, space before it, a control", function()
    for _, f in ipairs{": x", "NoColon", "Host : x", "X\tA: 1", "X\1A: 1", "X(A): 1"} do
      assert.are.equal("INVALID_FIELD_NAME", reason("GET / HTTP/1.1\r\n" .. f), f)
    end
  end)

  it("INVALID_FIELD_VALUE: NUL, a control or DEL; obs-text is accepted", function()
    for _, v in ipairs{"a\0b", "a\1b", "a\127"} do
      assert.are.equal("INVALID_FIELD_VALUE", reason("GET / HTTP/1.1\r\nA: " .. v), v)
    end
    assert.are.same({"a", "\128\255"}, select(5, req("GET / HTTP/1.1\r\nA: \128\255\r\n\r\n")))
  end)

  it("survives hostile input: random bytes at every split point", function()
    math.randomseed(20261206)
    local alphabet = {"\r", "\n", "\r\n", " ", ":", "\t", "\0", "\127", "\255", "G", "a",
                      "HTTP/1.1", "GET / ", "\r\n\r\n", "Host: x", "#", "?"}
    for _ = 1, 3000 do
      local parts = {}
      for j = 1, math.random(0, 30) do parts[j] = alphabet[math.random(#alphabet)] end
      local buf = table.concat(parts)
      local r = table.pack(pcall(http_request, buf, math.random(1, #buf + 2),
                                 math.random(0, 3) == 0 and math.random(-40, 40) or 0,
                                 math.random(0, 64), math.random(0, 64), math.random(0, 8)))
      assert.is_true(r[1], buf)
      if r[2] then assert.is_table(r[6]) end
    end
  end)

  it("raises on misuse", function()
    assert.has_error(function() http_request() end)
    assert.has_error(function() http_request("x", 0, 0, 1, 1, 1) end)
    assert.has_error(function() http_request("x", 1, 0, -1, 1, 1) end)
    assert.has_error(function() http_request("x", 1, 0, 1, 2^40, 1) end)
    assert.has_error(function() http_request({}, 1, 0, 1, 1, 1) end)
  end)
end)

describe("core.http_parser", function()
  local META = {__name = "test.request"}
  local parse = core.http_parser(8192, 32768, 100, {GET = true, HEAD = true}, META)

  it("makes the common request whole: its table, with the metatable, and the stop", function()
    -- conn, head and at in the array part; target left to meta's __index
    local conn = {}
    local buf = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.0\r\nHost: y\r\n\r\n"
    local r, stop = parse(buf, 1, conn)
    assert.are.equal(META, getmetatable(r))
    assert.are.same({conn, buf, method = "GET", path = "/a", version = "1.1",
                     keep_alive = true}, setmetatable(r, nil))
    r, stop = parse(buf, stop, conn)
    assert.are.equal(#buf + 1, stop)
    assert.are.same({conn, buf, 29, method = "GET", path = "/b", version = "1.0",
                     keep_alive = false}, setmetatable(r, nil))
  end)

  it("answers anything else as false and core.http_request's results", function()
    for _, head in ipairs{"GET /a?q HTTP/1.1\r\nHost: x",       -- a query
                          "GET http://x/ HTTP/1.1\r\nHost: x",   -- absolute-form
                          "GET / HTTP/1.1\r\nHost: x\r\nConnection: close",
                          "GET / HTTP/1.1\r\nContent-Length: 1",  -- no Host
                          "POST / HTTP/1.1\r\nHost: x",           -- not in methods
                          "GET / HTTP/1.1\r\nHost: a b",          -- a bad Host
                          "GET / HTTP/1.1\r\nHo",                 -- not whole
                          "GET / HTTP/1.1\nHost: x"} do            -- refused
      local buf = "\r\n" .. head .. "\r\n\r\n"
      if head:find("Ho$") then buf = head end
      local want = table.pack(core.http_request(buf, 1, 0, 8192, 32768, 100))
      local got = table.pack(parse(buf, 1, {}))
      assert.is_false(got[1], head)
      assert.are.same(want, table.pack(table.unpack(got, 2, got.n)), head)
    end
  end)

  it("reads from a socket first when given one: the data, then the parse", function()
    local pa, pb = core.socketpair()
    local a <close> = pa
    local b <close> = pb
    local conn = {}
    assert(b:send("GET /s HTTP/1.1\r\nHost: x\r\n\r\n"))
    local buf, r, stop = parse(a, conn)
    assert.are.equal("GET /s HTTP/1.1\r\nHost: x\r\n\r\n", buf)
    assert.are.same({"/s", conn, #buf + 1}, {r.path, r[1], stop})
    assert(b:send("PUT /s HTTP/1.1\r\nHost: x\r\n\r\n"))
    local method
    buf, r, stop, method = parse(a, conn)
    assert.is_false(r)
    assert.are.same({#buf + 1, "PUT"}, {stop, method})
    b:close()
    assert.are.equal("", parse(a, conn))
  end)

  it("keeps its limits", function()
    local small = core.http_parser(14, 64, 1, {GET = true}, META)
    assert.are.same({false, nil, "LINE_TOO_LONG"}, {small("GET /aaaaaaaaaaa HTTP/1.1\r\n", 1)})
    assert.are.same({false, nil, "TOO_MANY_FIELDS"},
                    {small("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\n", 1)})
  end)

  it("raises on misuse", function()
    assert.has_error(function() core.http_parser(-1, 1, 1, {}, {}) end)
    assert.has_error(function() core.http_parser(1, 1, 1, nil, {}) end)
    assert.has_error(function() parse({}, 1) end)
    assert.has_error(function() parse("GET", 0) end)
  end)
end)

describe("core.http_response", function()
  it("parses a status line and fields, names as sent", function()
    local buf = "HTTP/1.1 404 Not Found\r\nContent-Type: x\r\nX-A:  b \r\n\r\nbody"
    local stop, status, major, minor, why, fields = res(buf)
    assert.are.equal("body", buf:sub(stop))
    assert.are.same({404, 1, 1, "Not Found"}, {status, major, minor, why})
    assert.are.same({"Content-Type", "x", "X-A", "b"}, fields)
  end)

  it("is lenient where a user agent may be: LF alone, obs-fold, no reason", function()
    local buf = "HTTP/1.0 200\nA: 1\n  2\n\nok"
    local stop, status, _, _, why, fields = res(buf)
    assert.are.same({200, "", {"A", "1", false, "2"}}, {status, why, fields})
    assert.are.equal("ok", buf:sub(stop))
  end)

  it("INVALID_STATUS_LINE, UNSUPPORTED_VERSION, LINE_TOO_LONG", function()
    for _, l in ipairs{"HTTP/1.1 200OK", "HTTP/1.1 99 Low", "ICY 200 OK", "HTTP/1.1 600 X",
                       "HTTP/1.1 200 a\1b"} do
      assert.are.same({nil, "INVALID_STATUS_LINE"}, {res(l .. "\r\n\r\n")}, l)
    end
    assert.are.same({nil, "UNSUPPORTED_VERSION"}, {res("HTTP/2.0 200 OK\r\n\r\n")})
    assert.are.same({nil, "LINE_TOO_LONG"}, {res("HTTP/1.1 200 " .. ("r"):rep(100), 50)})
  end)

  it("refuses the same field lines a request head does", function()
    assert.are.same({nil, "INVALID_FIELD_NAME"}, {res("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n")})
    assert.are.same({nil, "INVALID_FIELD_NAME"}, {res("HTTP/1.1 200 OK\r\n x: y\r\n\r\n")})
    assert.are.same({nil, "BARE_CR"}, {res("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n")})
    assert.are.same({nil, "INVALID_FIELD_VALUE"}, {res("HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n")})
  end)
end)

describe("core.http_trailers", function()
  it("parses a trailer section, or an empty one", function()
    local stop, fields = http_trailers("X-Sum: 1\r\nY: 2\r\n\r\nnext", 1, 0, 8192, 32)
    assert.are.same({19, {"x-sum", "1", "y", "2"}}, {stop, fields})
    assert.are.same({3, {}}, {http_trailers("\r\n", 1, 0, 8192, 32)})
    assert.are.same({false, 0}, {http_trailers("", 1, 0, 8192, 32)})
  end)

  it("refuses bad lines and passes limits with the head's reasons", function()
    assert.are.same({nil, "OBS_FOLD"}, {http_trailers("A: 1\r\n 2\r\n\r\n", 1, 0, 8192, 32)})
    assert.are.same({nil, "BARE_LF"}, {http_trailers("A: 1\n\n", 1, 0, 8192, 32)})
    assert.are.same({nil, "HEAD_TOO_LARGE"}, {http_trailers(("A: 1\r\n"):rep(10), 1, 0, 20, 32)})
    assert.are.same({nil, "TOO_MANY_FIELDS"},
                    {http_trailers(("A: 1\r\n"):rep(3) .. "\r\n", 1, 0, 8192, 2)})
  end)
end)

describe("core.http_chunked", function()
  local function decode(buf, max_out)
    return http_chunked(buf, 1, 0, 4096, max_out or 65536)
  end

  it("decodes every chunk buffered, up to the last, with extensions", function()
    local buf = "5;a=b;c=\"q \\\" d\"\r\nhello\r\n3 ; x\r\nabc\r\n0\r\n\r\n"
    local data, stop, left = decode(buf)
    assert.are.same({"helloabc", -2}, {data, left})
    assert.are.equal("\r\n", buf:sub(stop))
  end)

  it("stops where the buffer does and resumes from the state it returns", function()
    local buf = "a\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n"
    local out, state, pos = {}, 0, 1
    for i = 1, #buf do    -- one more byte each time
      local data, stop, left = http_chunked(buf:sub(1, i), pos, state, 4096, 65536)
      out[#out + 1], pos, state = data, stop, left
    end
    assert.are.same({"0123456789x", -2}, {table.concat(out), state})
  end)

  it("decodes at most max_out bytes a call, however small the chunks", function()
    local buf = ("1\r\nx\r\n"):rep(1000) .. "0\r\n\r\n"
    local data, stop, left = decode(buf, 100)
    assert.are.equal(("x"):rep(100), data)
    assert.are.equal(-1, left)     -- at the CRLF after the 100th chunk
    data = http_chunked(buf, stop, left, 4096, 1e6)
    assert.are.equal(900, #data)
  end)

  it("INVALID_CHUNK_SIZE, CHUNK_SIZE_OVERFLOW, INVALID_CHUNK_EXT, INVALID_CHUNK_END", function()
    for _, c in ipairs{{"x\r\n", "INVALID_CHUNK_SIZE"}, {"-1\r\n", "INVALID_CHUNK_SIZE"},
                       {"0x5\r\n", "INVALID_CHUNK_SIZE"}, {" 5\r\n", "INVALID_CHUNK_SIZE"},
                       {"5 \r\n", "INVALID_CHUNK_SIZE"},
                       {"1000000000000000\r\n", "CHUNK_SIZE_OVERFLOW"},
                       {"5;\r\n", "INVALID_CHUNK_EXT"}, {"5;a=\r\n", "INVALID_CHUNK_EXT"},
                       {"5;a=\"x\r\n", "INVALID_CHUNK_EXT"},
                       {"1\r\nxy", "INVALID_CHUNK_END"}, {"1\r\nx\rz", "INVALID_CHUNK_END"}} do
      assert.are.same({nil, c[2]}, {decode(c[1])}, c[1])
    end
    assert.are.equal("x", (decode("000000000000000000001\r\nx\r\n")))
  end)

  it("LINE_TOO_LONG and BARE_LF in a size line", function()
    assert.are.same({nil, "LINE_TOO_LONG"}, {http_chunked("5" .. (";a"):rep(100), 1, 0, 50, 10)})
    assert.are.same({nil, "LINE_TOO_LONG"}, {http_chunked("5" .. (";a"):rep(100) .. "\r\n",
                                                          1, 0, 50, 10)})
    assert.are.same({nil, "BARE_LF"}, {decode("5\nhello")})
  end)
end)
