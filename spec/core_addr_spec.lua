-- Addresses: sockaddr round trips through bind/getsockname/getpeername,
-- the resolver (numeric and /etc/hosts only, never DNS), inet_pton/ntop.
local core = require "lunasock.core"
local helper = require "helper"

local NUMERIC = core.NI_NUMERICHOST | core.NI_NUMERICSERV

-- true when an IPv6 loopback can be bound here
local function have_ipv6()
  local s = core.socket("inet6", "stream")
  if not s then return false end
  local ok = s:bind("::1", 0)
  s:close()
  return ok == true
end

-- true when Linux's abstract unix namespace is available
local function have_abstract()
  local s <close> = core.socket("unix", "stream")
  return s:bind("\0lunasock-probe-" .. tostring(s:fileno()) ..
                "-" .. tostring(os.time())) == true
end

local function is_port(p)
  return math.type(p) == "integer" and p > 0 and p < 65536
end

describe("lunasock.core addresses", function()

  describe("bind and getsockname", function()
    it("round-trips 127.0.0.1 with the port the kernel chose", function()
      local s <close> = core.socket("inet", "stream")
      assert.is_true(s:bind("127.0.0.1", 0))
      local host, port = s:getsockname()
      assert.equal("127.0.0.1", host)
      assert.is_true(is_port(port))
    end)

    it("round-trips ::1", function()
      if not have_ipv6() then pending("no IPv6 loopback here") return end
      local s <close> = core.socket("inet6", "dgram")
      assert.is_true(s:bind("::1", 0))
      local host, port = s:getsockname()
      assert.equal("::1", host)
      assert.is_true(is_port(port))
    end)

    it("binds '*' to 0.0.0.0 on an inet socket", function()
      local s <close> = core.socket("inet", "dgram")
      assert.is_true(s:bind("*", 0))
      local host, port = s:getsockname()
      assert.equal("0.0.0.0", host)
      assert.is_true(is_port(port))
    end)

    it("binds '*' to :: on an inet6 socket", function()
      if not have_ipv6() then pending("no IPv6 loopback here") return end
      local s <close> = core.socket("inet6", "dgram")
      assert.is_true(s:bind("*", 0))
      local host, port = s:getsockname()
      assert.equal("::", host)
      assert.is_true(is_port(port))
    end)

    it("maps an IPv4 literal to ::ffff:a.b.c.d on an inet6 socket",
       function()
      if not have_ipv6() then pending("no IPv6 loopback here") return end
      local s <close> = core.socket("inet6", "stream")
      assert(s:setopt("v6only", false))
      assert.is_true(s:bind("127.0.0.1", 0))
      assert.equal("::ffff:127.0.0.1", (s:getsockname()))
    end)

    it("accepts the port as a numeric string", function()
      local s <close> = core.socket("inet", "stream")
      assert.is_true(s:bind("127.0.0.1", "0"))
      assert.is_true(is_port(select(2, s:getsockname())))
    end)

    it("resolves localhost through the hosts file", function()
      local s <close> = core.socket("inet", "stream")
      assert.is_true(s:bind("localhost", 0))
      assert.matches("^127%.", (s:getsockname()))
    end)

    it("round-trips a unix path", function()
      local dir = helper.tmpdir()
      finally(function() helper.rmdir(dir) end)
      local path = dir .. "/sock"
      local s <close> = core.socket("unix", "stream")
      assert.is_true(s:bind(path))
      assert.equal(path, s:getsockname())
      s:close()
      assert(os.remove(path))
    end)

    it("round-trips an abstract name with its exact length", function()
      if not have_abstract() then
        pending("no abstract unix namespace (Linux only)") return
      end
      local name = "\0lunasock-addr-" .. tostring(os.time()) .. "\0tail"
      local s <close> = core.socket("unix", "dgram")
      assert.is_true(s:bind(name))
      local got = s:getsockname()
      assert.equal(#name, #got)
      assert.equal(name, got)
    end)

    it("autobinds '' to a kernel-chosen abstract name", function()
      if not have_abstract() then
        pending("no abstract unix namespace (Linux only)") return
      end
      local s <close> = core.socket("unix", "dgram")
      assert.is_true(s:bind(""))
      assert.matches("^%z.", s:getsockname())
    end)

    it("gives '' for an unnamed unix socket", function()
      local a, b = assert(core.socketpair("unix", "stream"))
      local a_ <close> = a
      local b_ <close> = b
      assert.equal("", a_:getsockname())
      assert.equal("", b_:getpeername())
    end)
  end)

  describe("getpeername", function()
    it("returns the listener's address after connect", function()
      local l <close>, port = helper.listener("127.0.0.1")
      local c <close> = core.socket("inet", "stream")
      c:settimeout(helper.TIMEOUT)
      assert.is_true(c:connect("127.0.0.1", port))
      local host, pport = c:getpeername()
      assert.equal("127.0.0.1", host)
      assert.equal(port, pport)
      local s <close>, chost, cport = assert(l:accept())
      local myhost, myport = c:getsockname()
      assert.equal(myhost, chost)
      assert.equal(myport, cport)
      assert.same({myhost, myport}, {s:getpeername()})
    end)

    it("returns the path after a unix connect", function()
      local dir = helper.tmpdir()
      finally(function() helper.rmdir(dir) end)
      local path = dir .. "/listener"
      local l <close> = core.socket("unix", "stream")
      assert.is_true(l:bind(path))
      assert.is_true(l:listen())
      local c <close> = core.socket("unix", "stream")
      c:settimeout(helper.TIMEOUT)
      assert.is_true(c:connect(path))
      assert.equal(path, c:getpeername())
    end)

    it("returns nil, msg, 'ENOTCONN' when not connected", function()
      local s <close> = core.socket("inet", "stream")
      local ok, msg, code = s:getpeername()
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.equal("ENOTCONN", code)
    end)
  end)

  describe("argument checks", function()
    it("raises on ports out of 0..65535", function()
      local s <close> = core.socket("inet", "stream")
      assert.has_error(function() s:bind("127.0.0.1", -1) end)
      assert.has_error(function() s:bind("127.0.0.1", 65536) end)
      assert.has_error(function() s:bind("127.0.0.1", 2^63) end)
      assert.has_error(function() s:bind("127.0.0.1", math.mininteger) end)
      assert.has_error(function() s:bind("127.0.0.1", 1.5) end)
      assert.has_error(function() s:bind("127.0.0.1", "http") end)
      assert.has_error(function() s:bind("127.0.0.1") end)
      local ok, err = pcall(s.bind, s, "127.0.0.1", 65536)
      assert.is_false(ok)
      assert.matches("0..65535", err, 1, true)
    end)

    it("raises on an empty host, a non-string host and a zero byte",
       function()
      local s <close> = core.socket("inet", "stream")
      assert.has_error(function() s:bind("", 0) end)
      assert.has_error(function() s:bind(nil, 0) end)
      assert.has_error(function() s:bind({}, 0) end)
      assert.has_error(function() s:bind("127.0.0.1\0junk", 0) end)
    end)

    it("returns a resolver error for an IPv6 literal on an inet socket",
       function()
      local s <close> = core.socket("inet", "stream")
      local ok, msg, code = s:bind("::1", 0)
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.matches("^EAI_", code)
    end)

    it("never looks up a host of only digits and dots", function()
      local s <close> = core.socket("inet", "stream")
      local ok, msg, code = s:bind("256.1.1.1", 0)
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.equal("EAI_NONAME", code)
      assert.is_true(s:bind("127.1", 0))  -- inet_aton's short form
      assert.equal("127.0.0.1", (s:getsockname()))
    end)

    it("returns nil, msg, 'ENAMETOOLONG' for a long unix path", function()
      local s <close> = core.socket("unix", "stream")
      local ok, msg, code = s:bind("/tmp/" .. ("x"):rep(200))
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.equal("ENAMETOOLONG", code)
      ok, msg, code = s:bind("\0" .. ("x"):rep(200))
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.equal("ENAMETOOLONG", code)
    end)

    it("raises on a unix path with a zero byte after its start", function()
      local s <close> = core.socket("unix", "stream")
      assert.has_error(function() s:bind("/tmp/a\0b") end)
    end)
  end)

  describe("getaddrinfo", function()
    it("resolves localhost with family and socktype hints", function()
      local list = assert(core.getaddrinfo("localhost", "80",
                            {family = "inet", socktype = "stream"}))
      assert.is_true(#list >= 1)
      for _, ai in ipairs(list) do
        assert.equal(core.AF_INET, ai.family)
        assert.equal(core.SOCK_STREAM, ai.socktype)
        assert.matches("^127%.", ai.addr)
        assert.equal(80, ai.port)
        assert.is_true(math.type(ai.protocol) == "integer")
      end
    end)

    it("looks up a service name", function()
      local f = io.open("/etc/services")
      if not f then pending("no /etc/services here") return end
      f:close()
      local list = assert(core.getaddrinfo("localhost", "http",
                            {family = core.AF_INET, socktype = "stream"}))
      assert.equal(80, list[1].port)
    end)

    it("takes an integer service and a nil one", function()
      local list = assert(core.getaddrinfo("localhost", 8080,
                                           {family = "inet"}))
      assert.equal(8080, list[1].port)
      list = assert(core.getaddrinfo("localhost", nil,
                                     {socktype = core.SOCK_DGRAM}))
      assert.is_true(#list >= 1)
      for _, ai in ipairs(list) do
        assert.equal(0, ai.port)
        assert.equal(core.SOCK_DGRAM, ai.socktype)
      end
    end)

    it("filters by socktype", function()
      local all = assert(core.getaddrinfo("127.0.0.1", 80,
                                          {flags = core.AI_NUMERICHOST}))
      local dgram = assert(core.getaddrinfo("127.0.0.1", 80,
                   {flags = core.AI_NUMERICHOST, socktype = "dgram"}))
      assert.is_true(#all > #dgram)
      for _, ai in ipairs(dgram) do
        assert.equal(core.SOCK_DGRAM, ai.socktype)
      end
    end)

    it("parses a numeric host with AI_NUMERICHOST", function()
      local list = assert(core.getaddrinfo("127.0.0.1", 80,
                                           {flags = core.AI_NUMERICHOST}))
      assert.is_true(#list >= 1)
      for _, ai in ipairs(list) do
        assert.equal(core.AF_INET, ai.family)
        assert.equal("127.0.0.1", ai.addr)
        assert.equal(80, ai.port)
      end
      list = assert(core.getaddrinfo("::1", "443",
                                     {flags = core.AI_NUMERICHOST}))
      assert.equal(core.AF_INET6, list[1].family)
      assert.equal("::1", list[1].addr)
      assert.equal(443, list[1].port)
    end)

    it("gives the wildcard for a nil host with AI_PASSIVE, and for '*'",
       function()
      local list = assert(core.getaddrinfo(nil, 80, {family = "inet",
                            socktype = "stream", flags = core.AI_PASSIVE}))
      assert.equal("0.0.0.0", list[1].addr)
      list = assert(core.getaddrinfo("*", 80, {family = "inet",
                                               socktype = "stream"}))
      assert.equal("0.0.0.0", list[1].addr)
    end)

    it("returns nil, msg, 'EAI_NONAME' for a name under AI_NUMERICHOST",
       function()
      local ok, msg, code = core.getaddrinfo("not-a-number", "80",
                                             {flags = core.AI_NUMERICHOST})
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.equal("EAI_NONAME", code)
    end)

    it("raises on bad arguments", function()
      assert.has_error(function() core.getaddrinfo() end)
      assert.has_error(function() core.getaddrinfo(nil, nil) end)
      assert.has_error(function() core.getaddrinfo({}, "80") end)
      assert.has_error(function() core.getaddrinfo("localhost", {}) end)
      assert.has_error(function() core.getaddrinfo("localhost", 70000) end)
      assert.has_error(function() core.getaddrinfo("localhost", -1) end)
      assert.has_error(function() core.getaddrinfo("localhost", "80", 5) end)
      assert.has_error(function()
        core.getaddrinfo("localhost", "80", {flags = "numeric"})
      end)
      assert.has_error(function()
        core.getaddrinfo("localhost", "80", {flags = 2^40})
      end)
      assert.has_error(function()
        core.getaddrinfo("localhost", "80", {family = "martian"})
      end)
      assert.has_error(function()
        core.getaddrinfo("localhost", "80", {socktype = {}})
      end)
    end)
  end)

  describe("getnameinfo", function()
    it("returns the numeric host and service", function()
      local host, serv = core.getnameinfo("127.0.0.1", 80, NUMERIC)
      assert.equal("127.0.0.1", host)
      assert.equal("80", serv)
      host, serv = core.getnameinfo("::1", 443, NUMERIC)
      assert.equal("::1", host)
      assert.equal("443", serv)
    end)

    it("returns nil, msg, 'EAI_NONAME' for a name instead of an address",
       function()
      local ok, msg, code = core.getnameinfo("not-an-address", 80, NUMERIC)
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.equal("EAI_NONAME", code)
    end)

    it("raises on bad arguments", function()
      assert.has_error(function() core.getnameinfo() end)
      assert.has_error(function() core.getnameinfo("127.0.0.1") end)
      assert.has_error(function() core.getnameinfo("127.0.0.1", 65536) end)
      assert.has_error(function() core.getnameinfo("127.0.0.1", 80, "x") end)
      assert.has_error(function() core.getnameinfo("127.0.0.1", 80, -1) end)
    end)
  end)

  describe("inet_pton and inet_ntop", function()
    it("packs and unpacks IPv4", function()
      assert.equal("\127\0\0\1", core.inet_pton("inet", "127.0.0.1"))
      assert.equal("127.0.0.1", core.inet_ntop("inet", "\127\0\0\1"))
      assert.equal("192.0.2.33",
        core.inet_ntop(core.AF_INET, core.inet_pton(core.AF_INET,
                                                    "192.0.2.33")))
    end)

    it("packs and unpacks IPv6", function()
      assert.equal(("\0"):rep(15) .. "\1", core.inet_pton("inet6", "::1"))
      for _, text in ipairs{"::1", "::", "2001:db8::1", "fe80::1:2",
                            "::ffff:1.2.3.4"} do
        local bytes = core.inet_pton("inet6", text)
        assert.equal(16, #bytes)
        assert.equal(text, core.inet_ntop("inet6", bytes))
      end
    end)

    it("returns nil, msg, 'EINVAL' for bad text", function()
      for _, args in ipairs{{"inet", "256.0.0.1"}, {"inet", "::1"},
                            {"inet6", "1.2.3.4"}, {"inet6", "::g"},
                            {"inet", ""}, {"inet", "1.2.3.4\0"}} do
        local ok, msg, code = core.inet_pton(args[1], args[2])
        assert.is_nil(ok)
        assert.is_string(msg)
        assert.equal("EINVAL", code)
      end
    end)

    it("raises on a wrong byte count or family", function()
      local ok, err = pcall(core.inet_ntop, "inet", "\1\2\3")
      assert.is_false(ok)
      assert.matches("expected 4 bytes", err, 1, true)
      assert.has_error(function() core.inet_ntop("inet6", "\1\2\3\4") end)
      assert.has_error(function() core.inet_ntop("unix", "\1\2\3\4") end)
      assert.has_error(function() core.inet_pton("unix", "x") end)
      assert.has_error(function() core.inet_pton("inet", nil) end)
      assert.has_error(function() core.inet_ntop("inet", nil) end)
    end)
  end)

  describe("gethostname", function()
    it("returns a non-empty string", function()
      local name = core.gethostname()
      assert.is_string(name)
      assert.is_true(#name > 0)
    end)
  end)
end)
