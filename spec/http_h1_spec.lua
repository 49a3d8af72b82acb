-- lunasock.http.h1: what the HTTP server and client share.
local h1 = require "lunasock.http.h1"
local helper = require "helper"

describe("lunasock.http.h1", function()
  it("builds headers from a field list: joined repeats, any-case lookup", function()
    local h = h1.headers{"host", "x", "x-a", "1", "x-a", "2"}
    assert.are.equal("x", h.Host)
    assert.are.equal("1, 2", h["X-A"])
    assert.is_nil(h.missing)
    assert.are.equal("1, 2", h1.field({"x-a", "1", "x-a", "2"}, "x-a"))
    assert.is_nil(h1.field({}, "x"))
  end)

  it("checks tokens and finds one in a list", function()
    assert.is_true(h1.is_token("GET"))
    assert.is_false(h1.is_token("GE T"))
    assert.is_false(h1.is_token(""))
    assert.is_false(h1.is_token(5))
    assert.is_true(h1.has_token("keep-alive, Close", "close"))
    assert.is_false(h1.has_token("closed", "close"))
    assert.is_false(h1.has_token(nil, "close"))
  end)

  it("parses Content-Length: digits, equal lists; refuses the rest with why", function()
    assert.are.equal(5, h1.content_length("5"))
    assert.are.equal(0, h1.content_length("000"))
    assert.are.equal(5, h1.content_length("5, 5 ,5"))
    assert.are.same({nil, "conflicting"}, {h1.content_length("5, 6")})
    for _, v in ipairs{"", "+5", "0x5", "5,,5", " ", "5,"} do
      assert.are.same({nil, "invalid"}, {h1.content_length(v)}, v)
    end
    assert.are.same({nil, "too large"}, {h1.content_length(("9"):rep(16))})
    assert.are.equal(999999999999999, h1.content_length(("9"):rep(15)))
  end)

  it("trims and splits lists in linear time (issue 11: no lazy pattern)", function()
    assert.are.equal("a b", h1.trim(" \ta b\t "))
    assert.are.equal("", h1.trim(" \t "))
    assert.are.same({{"a", "", "b c"}, 3}, {h1.items(" a ,, b c ")})
    local blanks = "a" .. (" "):rep(200000) .. "b"
    local t0 = os.clock()
    h1.trim(blanks)
    h1.items(blanks .. "," .. blanks)
    h1.content_length(blanks)
    assert.is_true(os.clock() - t0 < 1 * helper.CPU_SLACK, "quadratic")
  end)

  it("checks a field about to be written", function()
    assert.are.equal("1", h1.check_field("X-A", 1))
    assert.has_error(function() h1.check_field("X A", "v") end)
    assert.has_error(function() h1.check_field("X", "a\r\nb") end)
    assert.has_error(function() h1.check_field(1, "v") end)
  end)

  it("knows the reason phrases", function()
    assert.are.equal("Not Found", h1.REASON[404])
    assert.are.equal("Request Header Fields Too Large", h1.REASON[431])
  end)
end)
