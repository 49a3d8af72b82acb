-- lunasock.http.url: URLs for the client and the one percent-decoder.
local url = require "lunasock.http.url"
local helper = require "helper"

describe("lunasock.http.url", function()
  it("parses full and address-bar URLs", function()
    local u = assert(url.parse("http://User:p%40ss@Example.COM:8080/a%20b?x=1#frag"))
    assert.are.same({"example.com", 8080, "/a%20b", "x=1", "user", "p@ss"},
                    {u.host, u.port, u.path, u.query, u.user:lower(), u.password})
    u = assert(url.parse("  localhost/x y  "))
    assert.are.same({"localhost", 80, "/x%20y"}, {u.host, u.port, u.path})
    assert.are.equal("[::1]:81", url.authority(assert(url.parse("[::1]:81/"))))
    local r, _, code = url.parse("ftp://x/")
    assert.are.same({nil, "EPROTONOSUPPORT"}, {r, code})
  end)

  it("resolves references as RFC 3986 5.2 does", function()
    local base = assert(url.parse("http://h/a/b/c?q"))
    assert.are.equal("http://h/a/b/d", url.tostring(assert(url.resolve(base, "d"))))
    assert.are.equal("http://h/a/x", url.tostring(assert(url.resolve(base, "../x"))))
    assert.are.equal("http://h/a/b/c?r", url.tostring(assert(url.resolve(base, "?r"))))
    assert.are.equal("http://o/p", url.tostring(assert(url.resolve(base, "//o/p"))))
  end)

  it("decodes percent-encoding once: decode, query, decode_path, decode_segment", function()
    assert.are.equal("a b%zz", url.decode("a%20b%zz"))
    assert.are.same({a = {"1", "2"}, b = "x y!", c = "", d = "%zz", ["e="] = "f"},
                    url.query("a=1&b=x+y%21&a=2&c&d=%zz&e%3D=f"))
    assert.are.same({}, url.query(nil))
    assert.are.equal("/hello/a%2Fb%25c d", url.decode_path("/hell%6F/a%2fb%25c%20d"))
    assert.are.equal("a/b%c", url.decode_segment("a%2Fb%25c"))
    assert.are.equal("%41", url.decode_segment(url.decode_path("%2541")))
  end)

  it("issue 11: parses a 60 KB URL or Location of inner blanks in linear time", function()
    local t0 = os.clock()
    local u = url.parse("http://h/" .. ("a "):rep(30000))
    assert.is_table(u)
    assert.is_table(url.resolve(u, " /x" .. (" "):rep(60000) .. "y "))
    assert.is_nil(url.parse((" "):rep(60000)))
    assert.is_true(os.clock() - t0 < 1 * helper.CPU_SLACK, "quadratic")
  end)
end)
