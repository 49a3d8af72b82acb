-- Socket options: named round trips, the raw level/optname path, and the
-- errors (unknown names, read-only options, wrong value types).
local core = require "lunasock.core"

-- Options a kernel may refuse to an unprivileged or sandboxed process:
-- these codes make a round trip test pending instead of failing.
local REFUSED = {EPERM = true, EACCES = true, ENOPROTOOPT = true,
                 EOPNOTSUPP = true, ENOTSUP = true, EINVAL = true,
                 ENODEV = true, EADDRNOTAVAIL = true}

local function near(want, got, eps)
  return math.abs(want - got) <= (eps or 0.02)
end

describe("lunasock.core options", function()

  describe("named options", function()
    it("round-trips reuseaddr", function()
      local s <close> = core.socket("inet", "stream")
      assert.is_true(s:setopt("reuseaddr", true))
      assert.is_true(s:getopt("reuseaddr"))
      assert.is_true(s:setopt("reuseaddr", false))
      assert.is_false(s:getopt("reuseaddr"))
    end)

    it("round-trips reuseport", function()
      local s <close> = core.socket("inet", "stream")
      local ok, _, code = s:setopt("reuseport", true)
      if not ok then pending("reuseport refused: " .. code) return end
      assert.is_true(s:getopt("reuseport"))
    end)

    it("reads back at least the rcvbuf and sndbuf asked for", function()
      -- Linux doubles the value to account for its bookkeeping
      local s <close> = core.socket("inet", "stream")
      assert.is_true(s:setopt("rcvbuf", 65536))
      assert.is_true(s:getopt("rcvbuf") >= 65536)
      assert.is_true(math.type(s:getopt("rcvbuf")) == "integer")
      assert.is_true(s:setopt("sndbuf", 65536))
      assert.is_true(s:getopt("sndbuf") >= 65536)
    end)

    it("turns linger on with seconds and off with false or nil", function()
      local s <close> = core.socket("inet", "stream")
      assert.is_false(s:getopt("linger"))
      assert.is_true(s:setopt("linger", 5))
      assert.equal(5, s:getopt("linger"))
      assert.is_true(s:setopt("linger", 0))
      assert.equal(0, s:getopt("linger"))
      assert.is_true(s:setopt("linger", false))
      assert.is_false(s:getopt("linger"))
      assert.is_true(s:setopt("linger", 3))
      assert.is_true(s:setopt("linger", nil))
      assert.is_false(s:getopt("linger"))
    end)

    it("round-trips rcvtimeo and sndtimeo as float seconds", function()
      local s <close> = core.socket("inet", "stream")
      assert.is_true(s:setopt("rcvtimeo", 1.5))
      assert.is_true(near(1.5, s:getopt("rcvtimeo")))
      assert.is_true(s:setopt("sndtimeo", 2))
      assert.is_true(near(2, s:getopt("sndtimeo")))
      assert.is_true(s:setopt("rcvtimeo", 0))
      assert.equal(0, s:getopt("rcvtimeo"))
    end)

    it("round-trips nodelay", function()
      local s <close> = core.socket("inet", "stream")
      assert.is_true(s:setopt("nodelay", true))
      assert.is_true(s:getopt("nodelay"))
      assert.is_true(s:setopt("nodelay", false))
      assert.is_false(s:getopt("nodelay"))
    end)

    it("round-trips keepalive and the keepalive timers", function()
      local s <close> = core.socket("inet", "stream")
      assert.is_true(s:setopt("keepalive", true))
      assert.is_true(s:getopt("keepalive"))
      assert.is_true(s:setopt("keepidle", 30))
      assert.equal(30, s:getopt("keepidle"))
      assert.is_true(s:setopt("keepintvl", 7))
      assert.equal(7, s:getopt("keepintvl"))
      assert.is_true(s:setopt("keepcnt", 4))
      assert.equal(4, s:getopt("keepcnt"))
    end)

    it("round-trips v6only on an inet6 socket", function()
      local s <close> = core.socket("inet6", "stream")
      assert.is_true(s:setopt("v6only", true))
      assert.is_true(s:getopt("v6only"))
      assert.is_true(s:setopt("v6only", false))
      assert.is_false(s:getopt("v6only"))
    end)

    it("round-trips ttl and tos on an inet socket", function()
      local s <close> = core.socket("inet", "dgram")
      assert.is_true(s:setopt("ttl", 42))
      assert.equal(42, s:getopt("ttl"))
      assert.is_true(s:setopt("tos", 0x10))
      assert.equal(0x10, s:getopt("tos"))
    end)

    it("maps ttl to the unicast hop limit on an inet6 socket", function()
      local s <close> = core.socket("inet6", "dgram")
      assert.is_true(s:setopt("ttl", 17))
      assert.equal(17, s:getopt("ttl"))
      assert.equal(17, s:getopt("unicast_hops"))
      assert.equal(17, s:getopt(core.IPPROTO_IPV6, core.IPV6_UNICAST_HOPS))
    end)

    it("round-trips broadcast on a udp socket", function()
      local s <close> = core.socket("inet", "dgram")
      assert.is_false(s:getopt("broadcast"))
      assert.is_true(s:setopt("broadcast", true))
      assert.is_true(s:getopt("broadcast"))
    end)

    it("round-trips the IPv4 multicast options", function()
      local s <close> = core.socket("inet", "dgram")
      assert.is_true(s:setopt("multicast_ttl", 5))
      assert.equal(5, s:getopt("multicast_ttl"))
      assert.is_true(s:setopt("multicast_loop", false))
      assert.is_false(s:getopt("multicast_loop"))
      local ok, _, code = s:setopt("multicast_if", "127.0.0.1")
      if not ok then pending("multicast_if refused: " .. code) return end
      assert.equal("127.0.0.1", s:getopt("multicast_if"))
    end)

    it("round-trips the IPv6 multicast options", function()
      local s <close> = core.socket("inet6", "dgram")
      assert.is_true(s:setopt("ipv6_multicast_hops", 3))
      assert.equal(3, s:getopt("ipv6_multicast_hops"))
      assert.is_true(s:setopt("ipv6_multicast_loop", false))
      assert.is_false(s:getopt("ipv6_multicast_loop"))
      assert.is_true(s:setopt("ipv6_multicast_if", 0))
      assert.equal(0, s:getopt("ipv6_multicast_if"))
    end)

    it("joins and leaves 224.0.0.251 on the loopback interface", function()
      local s <close> = core.socket("inet", "dgram")
      assert.is_true(s:bind("0.0.0.0", 0))
      local group = {multiaddr = "224.0.0.251", interface = "127.0.0.1"}
      local ok, msg, code = s:setopt("add_membership", group)
      if not ok then
        assert.is_string(msg)
        assert.is_true(REFUSED[code] ~= nil, code)
        pending("the kernel refuses loopback multicast here: " .. code)
        return
      end
      assert.is_true(s:setopt("drop_membership", group))
    end)

    it("joins ff02::fb on the loopback interface by name", function()
      local s <close> = core.socket("inet6", "dgram")
      local group = {multiaddr = "ff02::fb", interface = "lo"}
      local ok, msg, code = s:setopt("ipv6_add_membership", group)
      if not ok then
        assert.is_string(msg)
        assert.is_string(code)
        pending("the kernel refuses IPv6 multicast on lo here: " .. code)
        return
      end
      assert.is_true(s:setopt("leave_group", group))
    end)

    it("reads 0 from error on a fresh socket", function()
      local s <close> = core.socket("inet", "stream")
      assert.equal(0, s:getopt("error"))
    end)

    it("reads the socket type, domain and protocol", function()
      local s <close> = core.socket("inet", "stream")
      assert.equal(core.SOCK_STREAM, s:getopt("type"))
      local u <close> = core.socket("inet", "dgram")
      assert.equal(core.SOCK_DGRAM, u:getopt("type"))
      local ok, domain = pcall(s.getopt, s, "domain")
      if ok then
        assert.equal(core.AF_INET, domain)
        assert.equal(core.IPPROTO_TCP, s:getopt("protocol"))
      end
    end)

    it("reports acceptconn true only after listen", function()
      local s <close> = core.socket("inet", "stream")
      assert.is_false(s:getopt("acceptconn"))
      assert.is_true(s:bind("127.0.0.1", 0))
      assert.is_true(s:listen())
      assert.is_true(s:getopt("acceptconn"))
    end)

    it("binds to a device as root and returns EPERM otherwise", function()
      local s <close> = core.socket("inet", "dgram")
      local ok, msg, code = s:setopt("bindtodevice", "lo")
      if ok then
        assert.equal("lo", s:getopt("bindtodevice"))
        assert.is_true(s:setopt("bindtodevice", ""))
        assert.equal("", s:getopt("bindtodevice"))
      else
        assert.is_nil(ok)
        assert.is_string(msg)
        assert.equal("EPERM", code)
      end
    end)

    -- The rest of the table: each either round-trips or is refused with
    -- the error triple (privileges, sandboxes, older kernels).
    local more = {
      {"inet", "stream", "cork", true},
      {"inet", "stream", "quickack", true},
      {"inet", "stream", "user_timeout", 5000},
      {"inet", "stream", "defer_accept", 5},
      {"inet", "stream", "fastopen", 5},
      {"inet", "stream", "notsent_lowat", 16384},
      {"inet", "stream", "maxseg", 1200},
      {"inet", "stream", "oobinline", true},
      {"inet", "stream", "rcvlowat", 10},
      {"inet", "stream", "priority", 3},
      {"inet", "stream", "mark", 7},
      {"inet", "stream", "busy_poll", 0},
      {"inet", "stream", "dontroute", true},
      {"inet", "dgram", "freebind", true},
      {"inet", "dgram", "transparent", true},
      {"inet", "dgram", "recverr", true},
      {"inet", "dgram", "pktinfo", true},
      {"inet", "dgram", "peek_off", 0},
      {"inet6", "dgram", "recverr", true},
      {"inet6", "dgram", "pktinfo", true},
      {"inet6", "dgram", "tos", 0x20},
      {"inet6", "dgram", "tclass", 0x20},
      {"unix", "stream", "passcred", true},
    }
    for _, t in ipairs(more) do
      local family, socktype, name, value = t[1], t[2], t[3], t[4]
      it(("round-trips %s on an %s %s socket, or returns the triple")
         :format(name, family, socktype), function()
        local s <close> = core.socket(family, socktype)
        local set, msg, code = s:setopt(name, value)
        if not set then
          assert.is_nil(set)
          assert.is_string(msg)
          assert.is_true(REFUSED[code] ~= nil, code)
          pending(name .. " refused here: " .. code)
          return
        end
        assert.is_true(set)
        local got = s:getopt(name)
        assert.equal(type(value), type(got))
        if type(value) == "boolean" then assert.equal(value, got) end
      end)
    end
  end)

  describe("raw level and optname", function()
    it("sets and gets an integer", function()
      local s <close> = core.socket("inet", "stream")
      assert.equal(0, s:getopt(core.SOL_SOCKET, core.SO_REUSEADDR))
      assert.is_true(s:setopt(core.SOL_SOCKET, core.SO_REUSEADDR, 1))
      assert.equal(1, s:getopt(core.SOL_SOCKET, core.SO_REUSEADDR))
      assert.is_true(s:getopt("reuseaddr"))
      assert.is_true(s:setopt(core.SOL_SOCKET, core.SO_REUSEADDR, false))
      assert.equal(0, s:getopt(core.SOL_SOCKET, core.SO_REUSEADDR))
    end)

    it("sets raw bytes and reads them back with a size", function()
      local s <close> = core.socket("inet", "stream")
      assert.is_true(s:setopt(core.SOL_SOCKET, core.SO_KEEPALIVE,
                              string.pack("i4", 1)))
      local raw = s:getopt(core.SOL_SOCKET, core.SO_KEEPALIVE, 4)
      assert.equal(4, #raw)
      assert.equal(1, string.unpack("i4", raw))
      raw = s:getopt(core.SOL_SOCKET, core.SO_KEEPALIVE, 64)
      assert.equal(4, #raw)
    end)

    it("returns the triple for an option the kernel does not know",
       function()
      local s <close> = core.socket("inet", "stream")
      local ok, msg, code = s:getopt(core.SOL_SOCKET, 0x7fff)
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_string(code)
      ok, msg, code = s:setopt(core.SOL_SOCKET, 0x7fff, 1)
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_string(code)
    end)

    it("range-checks levels, names, values and sizes", function()
      local s <close> = core.socket("inet", "stream")
      local SOL, REUSE = core.SOL_SOCKET, core.SO_REUSEADDR
      assert.has_error(function() s:getopt(SOL, REUSE, 0) end)
      assert.has_error(function() s:getopt(SOL, REUSE, 65537) end)
      assert.has_error(function() s:getopt(SOL, REUSE, -1) end)
      assert.has_error(function() s:getopt(SOL, REUSE, 2^63) end)
      assert.has_error(function() s:getopt(SOL, REUSE, "x") end)
      assert.has_error(function() s:getopt(2^40, REUSE) end)
      assert.has_error(function() s:getopt(SOL) end)
      assert.has_error(function() s:setopt(SOL, REUSE, 2^40) end)
      assert.has_error(function() s:setopt(SOL, REUSE, 1.5) end)
      assert.has_error(function() s:setopt(SOL, REUSE, {}) end)
      assert.has_error(function() s:setopt(SOL, REUSE) end)
      assert.has_error(function() s:setopt(SOL, REUSE, ("x"):rep(65537)) end)
    end)
  end)

  describe("errors", function()
    local function raises(pattern, fn)
      local ok, err = pcall(fn)
      assert.is_false(ok)
      assert.matches(pattern, tostring(err), 1, true)
    end

    it("raises on an unknown option name", function()
      local s <close> = core.socket("inet", "stream")
      raises("unknown option 'foo'", function() s:setopt("foo", 1) end)
      raises("unknown option 'foo'", function() s:getopt("foo") end)
    end)

    it("raises when setting a read-only option", function()
      local s <close> = core.socket("inet", "stream")
      raises("option 'error' is read-only",
             function() s:setopt("error", 0) end)
      raises("read-only", function() s:setopt("type", 1) end)
      raises("read-only", function() s:setopt("acceptconn", true) end)
    end)

    it("raises when reading a write-only option", function()
      local s <close> = core.socket("inet", "dgram")
      raises("write-only", function() s:getopt("add_membership") end)
    end)

    it("raises on a wrong value type, naming the expected one", function()
      local s <close> = core.socket("inet", "stream")
      raises("boolean expected", function() s:setopt("reuseaddr", 1) end)
      raises("boolean expected", function() s:setopt("reuseaddr") end)
      raises("number expected", function() s:setopt("rcvbuf", "big") end)
      raises("out of range", function() s:setopt("rcvbuf", 2^40) end)
      raises("integer seconds or false",
             function() s:setopt("linger", true) end)
      raises("number expected", function() s:setopt("rcvtimeo", "soon") end)
      assert.has_error(function() s:setopt("rcvtimeo", -1) end)
      assert.has_error(function() s:setopt("rcvtimeo", 0/0) end)
      assert.has_error(function() s:setopt("rcvtimeo", math.huge) end)
      assert.has_error(function() s:setopt("linger", -1) end)
      assert.has_error(function() s:setopt("bindtodevice", {}) end)
      assert.has_error(function() s:setopt("bindtodevice", ("x"):rep(40)) end)
      assert.has_error(function() s:setopt("multicast_if", "nowhere") end)
      assert.has_error(function() s:setopt("multicast_if", {}) end)
      assert.has_error(function() s:setopt(true, 1) end)
      assert.has_error(function() s:getopt() end)
    end)

    it("raises on a malformed membership table", function()
      local s <close> = core.socket("inet", "dgram")
      assert.has_error(function() s:setopt("add_membership", "224.0.0.1") end)
      assert.has_error(function() s:setopt("add_membership", {}) end)
      assert.has_error(function()
        s:setopt("add_membership", {multiaddr = "224.0.0.300"})
      end)
      assert.has_error(function()
        s:setopt("add_membership", {multiaddr = "224.0.0.1", interface = 1})
      end)
      local s6 <close> = core.socket("inet6", "dgram")
      assert.has_error(function()
        s6:setopt("ipv6_add_membership", {multiaddr = "1.2.3.4"})
      end)
      assert.has_error(function()
        s6:setopt("ipv6_add_membership",
                  {multiaddr = "ff02::1", interface = {}})
      end)
    end)

    it("returns ENODEV for an unknown interface name", function()
      local s6 <close> = core.socket("inet6", "dgram")
      local ok, msg, code = s6:setopt("ipv6_add_membership",
        {multiaddr = "ff02::1", interface = "no-such-if0"})
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.equal("ENODEV", code)
    end)

    it("returns the triple for an option of another protocol", function()
      local s <close> = core.socket("inet", "dgram")
      local ok, msg, code = s:setopt("nodelay", true)
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_string(code)
    end)

    it("raises on a closed socket", function()
      local s = core.socket("inet", "stream")
      s:close()
      raises("closed", function() s:setopt("reuseaddr", true) end)
      raises("closed", function() s:getopt("reuseaddr") end)
      raises("closed", function() s:getopt(core.SOL_SOCKET, 2) end)
    end)

    it("raises on a foreign object", function()
      local setopt = core.socket("inet", "stream").setopt
      assert.has_error(function() setopt(io.stdout, "reuseaddr", true) end)
      assert.has_error(function() setopt(nil, "reuseaddr", true) end)
      assert.has_error(function() setopt({}, "reuseaddr", true) end)
    end)
  end)
end)
