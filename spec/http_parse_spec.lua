-- lunasock.http.parse: the request-head parser, as a table of requests
-- and the status each must get (0: accepted), then the details of what an
-- accepted request looks like. The server spec sends some of these over
-- real sockets.
local parse = require "lunasock.http.parse"

local H = "\r\nHost: example.com"

-- {what, head (without the final CRLF CRLF), expected status or 0}
local CASES = {
  {"a plain GET", "GET / HTTP/1.1" .. H, 0},
  {"HTTP/1.0 without Host", "GET / HTTP/1.0", 0},
  {"a field with no value", "GET / HTTP/1.1" .. H .. "\r\nX-Empty:", 0},
  {"tabs and spaces around a value", "GET / HTTP/1.1" .. H .. "\r\nX-A: \t v \t", 0},
  {"obs-text in a value", "GET / HTTP/1.1" .. H .. "\r\nX-A: caf\233", 0},
  {"an absolute-form target", "GET http://example.com/x?y=1 HTTP/1.1" .. H, 0},
  {"OPTIONS *", "OPTIONS * HTTP/1.1" .. H, 0},
  {"Content-Length", "POST / HTTP/1.1" .. H .. "\r\nContent-Length: 5", 0},
  {"repeated equal Content-Length", "POST / HTTP/1.1" .. H
     .. "\r\nContent-Length: 5\r\nContent-Length: 5", 0},
  {"Content-Length list of one value", "POST / HTTP/1.1" .. H .. "\r\nContent-Length: 5, 5", 0},
  {"chunked", "POST / HTTP/1.1" .. H .. "\r\nTransfer-Encoding: chunked", 0},
  {"chunked in another case", "POST / HTTP/1.1" .. H .. "\r\nTransfer-Encoding: Chunked", 0},
  {"HTTP/1.9 is served as 1.1", "GET / HTTP/1.9" .. H, 0},
  {"Expect: 100-continue", "POST / HTTP/1.1" .. H .. "\r\nExpect: 100-Continue", 0},

  {"space before the colon", "GET / HTTP/1.1" .. H .. "\r\nX-A : 1", 400},
  {"tab before the colon", "GET / HTTP/1.1" .. H .. "\r\nX-A\t: 1", 400},
  {"obs-fold", "GET / HTTP/1.1" .. H .. "\r\nX-A: 1\r\n 2", 400},
  {"obs-fold with a tab", "GET / HTTP/1.1" .. H .. "\r\nX-A: 1\r\n\t2", 400},
  {"a field line without a colon", "GET / HTTP/1.1" .. H .. "\r\nX-A 1", 400},
  {"an empty field name", "GET / HTTP/1.1" .. H .. "\r\n: 1", 400},
  {"a control character in a name", "GET / HTTP/1.1" .. H .. "\r\nX\1A: 1", 400},
  {"NUL in a value", "GET / HTTP/1.1" .. H .. "\r\nX-A: a\0b", 400},
  {"a bare CR in a value", "GET / HTTP/1.1" .. H .. "\r\nX-A: a\rb", 400},
  {"a bare LF between fields", "GET / HTTP/1.1" .. H .. "\nX-A: 1", 400},
  {"DEL in a value", "GET / HTTP/1.1" .. H .. "\r\nX-A: a\127", 400},
  {"missing Host on 1.1", "GET / HTTP/1.1", 400},
  {"two Host fields", "GET / HTTP/1.1" .. H .. H, 400},
  {"a Host with a space", "GET / HTTP/1.1\r\nHost: a b", 400},
  {"conflicting Content-Length", "POST / HTTP/1.1" .. H
     .. "\r\nContent-Length: 5\r\nContent-Length: 6", 400},
  {"a Content-Length list that disagrees", "POST / HTTP/1.1" .. H
     .. "\r\nContent-Length: 5, 6", 400},
  {"a signed Content-Length", "POST / HTTP/1.1" .. H .. "\r\nContent-Length: +5", 400},
  {"a hex Content-Length", "POST / HTTP/1.1" .. H .. "\r\nContent-Length: 0x5", 400},
  {"an empty Content-Length", "POST / HTTP/1.1" .. H .. "\r\nContent-Length:", 400},
  {"a Content-Length too large", "POST / HTTP/1.1" .. H .. "\r\nContent-Length: 99999999999", 413},
  {"a Content-Length that overflows", "POST / HTTP/1.1" .. H
     .. "\r\nContent-Length: 999999999999999999999999", 413},
  {"Transfer-Encoding with Content-Length", "POST / HTTP/1.1" .. H
     .. "\r\nTransfer-Encoding: chunked\r\nContent-Length: 5", 400},
  {"Transfer-Encoding not ending in chunked", "POST / HTTP/1.1" .. H
     .. "\r\nTransfer-Encoding: chunked, gzip", 400},
  {"Transfer-Encoding: identity", "POST / HTTP/1.1" .. H .. "\r\nTransfer-Encoding: identity", 400},
  {"chunked twice", "POST / HTTP/1.1" .. H .. "\r\nTransfer-Encoding: chunked, chunked", 400},
  {"an unknown coding before chunked", "POST / HTTP/1.1" .. H
     .. "\r\nTransfer-Encoding: gzip, chunked", 501},
  {"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked", 400},
  {"a lower-case method", "get / HTTP/1.1" .. H, 501},
  {"an unknown method", "BREW / HTTP/1.1" .. H, 501},
  {"CONNECT", "CONNECT example.com:443 HTTP/1.1" .. H, 501},
  {"a method with a bad character", "GE(T / HTTP/1.1" .. H, 400},
  {"two spaces after the method", "GET  / HTTP/1.1" .. H, 400},
  {"a tab as separator", "GET\t/ HTTP/1.1" .. H, 400},
  {"no version", "GET /" .. H, 400},
  {"a lower-case version", "GET / http/1.1" .. H, 400},
  {"a two-digit minor version", "GET / HTTP/1.10" .. H, 400},
  {"HTTP/2.0", "GET / HTTP/2.0" .. H, 505},
  {"HTTP/0.9", "GET / HTTP/0.9" .. H, 505},
  {"a control character in the target", "GET /a\1b HTTP/1.1" .. H, 400},
  {"a fragment in the target", "GET /a#b HTTP/1.1" .. H, 400},
  {"a relative target", "GET a/b HTTP/1.1" .. H, 400},
  {"an asterisk for GET", "GET * HTTP/1.1" .. H, 400},
  {"userinfo in an absolute target", "GET http://u@example.com/ HTTP/1.1" .. H, 400},
  {"a long request line", "GET /" .. ("a"):rep(9000) .. " HTTP/1.1" .. H, 414},
  {"an unsupported expectation", "GET / HTTP/1.1" .. H .. "\r\nExpect: something", 417},
}

local function too_many_fields()
  local t = {"GET / HTTP/1.1" .. H}
  for i = 1, 101 do t[#t + 1] = "X-" .. i .. ": 1" end
  return table.concat(t, "\r\n")
end

describe("lunasock.http.parse", function()
  describe("gives each request in the table its status", function()
    for _, case in ipairs(CASES) do
      local what, head, want = case[1], case[2], case[3]
      it((want == 0 and "accepts " or "rejects with " .. want .. " ") .. what, function()
        local req, status, why = parse.request(head)
        if want == 0 then
          assert.is_table(req, why)
        else
          assert.is_nil(req)
          assert.are.equal(want, status)
          assert.is_string(why)
        end
      end)
    end
    it("rejects with 431 more than max_headers fields", function()
      local _, status = parse.request(too_many_fields())
      assert.are.equal(431, status)
      assert.is_table(parse.request(too_many_fields(), {max_headers = 200}))
    end)
  end)

  it("splits the target and keeps the fields", function()
    local req = assert(parse.request("GET /a%20b?x=1&y=2 HTTP/1.1" .. H
                                     .. "\r\nX-Multi: 1\r\nx-multi: 2\r\nX-Pad:  v  "))
    assert.are.equal("GET", req.method)
    assert.are.equal("/a%20b", req.path)
    assert.are.equal("x=1&y=2", req.query_string)
    assert.are.equal("1.1", req.version)
    assert.are.equal("example.com", req.headers.host)
    assert.are.equal("example.com", req.headers.HOST)
    assert.are.equal("1, 2", req.headers["X-Multi"])
    assert.are.equal("v", req.headers["x-pad"])
    assert.is_true(req.keep_alive)
    assert.are.equal(0, req.length)
  end)

  it("takes path and authority from an absolute-form target", function()
    local req = assert(parse.request("GET HTTP://h.example:8080?q=1 HTTP/1.1" .. H))
    assert.are.equal("/", req.path)
    assert.are.equal("q=1", req.query_string)
    assert.are.equal("h.example:8080", req.authority)
  end)

  it("knows when to keep the connection", function()
    assert.is_false(parse.request("GET / HTTP/1.1" .. H .. "\r\nConnection: close").keep_alive)
    assert.is_false(parse.request("GET / HTTP/1.1" .. H
                                  .. "\r\nConnection: foo, Close").keep_alive)
    assert.is_false(parse.request("GET / HTTP/1.0").keep_alive)
    assert.is_true(parse.request("GET / HTTP/1.0\r\nConnection: Keep-Alive").keep_alive)
  end)

  it("reads framing: length, chunked, expectation", function()
    local req = parse.request("POST / HTTP/1.1" .. H .. "\r\nContent-Length: 007")
    assert.are.equal(7, req.length)
    assert.is_false(req.chunked)
    req = parse.request("POST / HTTP/1.1" .. H .. "\r\nTransfer-Encoding: chunked")
    assert.is_true(req.chunked)
    req = parse.request("POST / HTTP/1.1" .. H .. "\r\nExpect: 100-continue")
    assert.is_true(req.expect_continue)
    req = parse.request("POST / HTTP/1.0\r\nExpect: 100-continue")
    assert.is_false(req.expect_continue)
  end)

  it("says whether the head has a precondition or Range field (conditional)", function()
    assert.is_false(parse.request("GET / HTTP/1.1" .. H).conditional)
    assert.is_false(parse.request("GET / HTTP/1.1" .. H .. "\r\nX-Range: 1").conditional)
    for _, f in ipairs{'If-None-Match: "a"', "if-modified-since: x", 'If-Match: "a"',
                       "If-Unmodified-Since: x", 'If-Range: "a"', "Range: bytes=0-1"} do
      local req = parse.request("GET / HTTP/1.1" .. H .. "\r\n" .. f)
      assert.is_true(req.conditional, f)
      assert.is_string(req.headers[f:match("^[^:]+")], f)
    end
  end)

  it("honours max_body and max_request_line", function()
    local _, status = parse.request("POST / HTTP/1.1" .. H .. "\r\nContent-Length: 11",
                                    {max_body = 10})
    assert.are.equal(413, status)
    _, status = parse.request("GET /" .. ("a"):rep(100) .. " HTTP/1.1" .. H,
                              {max_request_line = 50})
    assert.are.equal(414, status)
  end)

  it("parses query strings with +, percent-encoding and repeats", function()
    local q = parse.query("a=1&b=x+y%21&a=2&c&d=%zz&e%3D=f")
    assert.are.same({"1", "2"}, q.a)
    assert.are.equal("x y!", q.b)
    assert.are.equal("", q.c)
    assert.are.equal("%zz", q.d)
    assert.are.equal("f", q["e="])
    assert.are.same({}, parse.query(nil))
  end)
end)
