-- Runs every example as a child lua5.4 (finding this tree's modules, the
-- build directory from $LUNASOCK_BUILD as in .busted) under timeout(1),
-- and checks what it prints, so that the examples do not rot.
local core = require "lunasock.core"
local helper = require "helper"

local LUA, ENV = helper.LUA, helper.LUA_ENV
local LIMIT = 15   -- seconds any one example may run (timeout(1))

-- The shell command for an example with its arguments (already quoted).
local function command(name, args)
  return helper.example_command(name, args, LIMIT)
end

-- Runs an example to the end: its stdout and stderr together, and its
-- exit status.
local function run(name, args, prefix, suffix)
  local cmd = (prefix or "") .. command(name, args) .. (suffix or "") .. " 2>&1"
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local _, _, status = p:close()
  return out, status
end

local function plain(s)
  return (s:gsub("%p", "%%%0"))
end

-- Asserts that out has every string in list (plain text).
local function has_all(out, list)
  for _, s in ipairs(list) do
    assert.is_truthy(out:find(s, 1, true), ("output lacks %q:\n%s"):format(s, out))
  end
end

-- Starts examples/echo_server.lua with args in the background; returns
-- its pid (the timeout process, which passes a TERM on to lua), the
-- popen handle, and the first line it printed.
local function start_server(args)
  return helper.example_start("echo_server.lua", args)
end

-- Ends a server started above, by its pid, and reaps it: it is gone.
local function stop_server(pid, p)
  helper.stop_child(pid, p)
  assert.is_false(os.execute("kill -0 " .. pid .. " 2>/dev/null") == true)
end

local function tmpfile_with(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

describe("examples", function()
  describe("flags.lua", function()
    it("shows MSG_PEEK, MSG_OOB, MSG_WAITALL and MSG_DONTWAIT at work", function()
      local out, status = run("flags.lua")
      assert.equal(0, status, out)
      assert.matches('b:recv%(4, MSG_PEEK%)%s+%-> "peek"', out)
      assert.matches('still gets all of it%s+%-> "peekaboo"', out)
      assert.matches('up to the mark%s+%-> "abc"', out)
      assert.matches('MSG_OOB%)%s+%-> "!"', out)
      assert.matches('after the mark%s+%-> "def"', out)
      assert.matches('MSG_WAITALL%) %[%d+ ms%]%s+%-> "one two three"', out)
      assert.matches('on empty%s+%-> nil, "[^"]+", "EAGAIN"', out)
      assert.matches('with data%s+%-> "now"', out)
      assert.matches("\nok\n$", out)
    end)
  end)

  describe("fd_passing.lua", function()
    it("passes a socket, a pipe and a file, and uses each one", function()
      local out, status = run("fd_passing.lua")
      assert.equal(0, status, out)
      has_all(out, {
        "worker: got fd",
        'the reply is "the worker got: hello"',
        '(pipe): "a line a child process wrote into a pipe"',
        '(file): "a line written to a file before it was passed"',
      })
      assert.matches("\nok\n$", out)
    end)
  end)

  describe("udp_pair.lua", function()
    it("sends and receives datagrams, connected and not", function()
      local out, status = run("udp_pair.lua")
      assert.equal(0, status, out)
      assert.matches('b got "ping" from 127%.0%.0%.1:%d+', out)
      assert.matches('a got "pong" from 127%.0%.0%.1:%d+', out)
      has_all(out, {
        'two recv(100): "first" and "second, longer"',
        'recv(4, MSG_TRUNC) -> "0123", 10',
        'c:recv(100) -> "reply from b"',
        "ECONNREFUSED",
      })
      assert.matches("\nok\n$", out)
    end)
  end)

  describe("www_connect.lua", function()
    it("fetches from its own responder when given no arguments", function()
      local out, status = run("www_connect.lua")
      assert.equal(0, status, out)
      assert.matches("\nHTTP/1%.1 200 OK\n", out)
      assert.matches("\nContent%-Length: 44\n", out)
      assert.matches("body 44 bytes", out)
      assert.is_nil(out:find("hello from the responder", 1, true))  -- no body
    end)

    it("sends a GET to [::1]:PORT and prints the status line and headers", function()
      local l, port = helper.listener("127.0.0.1")
      local host = "127.0.0.1"
      local l6 = core.socket("inet6", "stream")
      if l6 and l6:bind("::1", 0) and l6:listen() then   -- IPv6 where ::1 exists
        l:close()
        l, host = l6, "[::1]"
        l:settimeout(helper.TIMEOUT)
        port = select(2, l:getsockname())
      elseif l6 then
        l6:close()
      end
      local _ <close> = l
      local args = ("'%s:%d' /some/path"):format(host, port)
      local p = assert(io.popen(command("www_connect.lua", args) .. " 2>&1"))
      local c <close> = assert(l:accept())
      c:settimeout(helper.TIMEOUT)
      local request = ""
      while not request:find("\r\n\r\n", 1, true) do
        local data = assert(c:recv(4096))
        assert.is_true(data ~= "", "EOF before the end of the request")
        request = request .. data
      end
      assert.matches("^GET /some/path HTTP/1%.1\r\n", request)
      assert.matches("\r\nHost: " .. plain(host) .. ":" .. port .. "\r\n", request)
      assert(c:send("HTTP/1.1 404 Not Found\r\nX-Test: yes\r\nContent-Length: 9\r\n\r\nnot found"))
      c:close()
      local out = p:read("a")
      local _, _, status = p:close()
      assert.equal(0, status, out)
      assert.matches("\nHTTP/1%.1 404 Not Found\nX%-Test: yes\nContent%-Length: 9\n", out)
      assert.matches("body 9 bytes", out)
      assert.is_nil(out:find("not found", 1, true))
    end)

    it("exits 1 with a message when the connection is refused", function()
      local l, port = helper.listener()
      l:close()   -- nobody listens there now
      local out, status = run("www_connect.lua", "127.0.0.1:" .. port)
      assert.equal(1, status, out)
      assert.matches("Connection refused", out)
    end)
  end)

  describe("echo_server.lua", function()
    it("prints its address and echoes over TCP until killed", function()
      local pid, p, line = start_server("0 127.0.0.1")
      local ok, err = pcall(function()
        local port = tonumber(line and line:match("^listening on 127%.0%.0%.1:(%d+)$"))
        assert.is_number(port, "first line: " .. tostring(line))
        local c <close> = assert(core.socket("inet", "stream"))
        c:settimeout(helper.TIMEOUT)
        assert(c:connect("127.0.0.1", port))
        assert(c:send("echo me\n"))
        assert.equal("echo me\n", assert(c:recv(8, core.MSG_WAITALL)))
      end)
      stop_server(pid, p)
      assert(ok, err)
    end)

    -- DESIGN: every program that listens takes --host and --port (this one
    -- took only a positional PORT HOST)
    it("takes --host and --port, as every listening program does", function()
      local pid, p, line = start_server("--host ::1 --port 0")
      local ok, err = pcall(function()
        local port = tonumber(line and line:match("^listening on ::1:(%d+)$"))
        assert.is_number(port, "first line: " .. tostring(line))
        local c <close> = assert(core.socket("inet6", "stream"))
        c:settimeout(helper.TIMEOUT)
        assert(c:connect("::1", port))
        assert(c:send("six\n"))
        assert.equal("six\n", assert(c:recv(4, core.MSG_WAITALL)))
      end)
      stop_server(pid, p)
      assert(ok, err)
    end)

    it("echoes datagrams with --udp", function()
      local pid, p, line = start_server("--udp 0 127.0.0.1")
      local ok, err = pcall(function()
        local port = tonumber(line and line:match("^listening on 127%.0%.0%.1:(%d+)$"))
        assert.is_number(port, "first line: " .. tostring(line))
        local u <close> = assert(core.socket("inet", "dgram"))
        u:settimeout(helper.TIMEOUT)
        assert(u:sendto("a datagram", "127.0.0.1", port))
        local data, _, from = assert(u:recvfrom(100))
        assert.equal("a datagram", data)
        assert.equal(port, from)
      end)
      stop_server(pid, p)
      assert(ok, err)
    end)
  end)

  describe("echo_client.lua", function()
    it("echoes its built-in lines through an in-process server", function()
      local out, status = run("echo_client.lua")
      assert.equal(0, status, out)
      assert.matches("started lunasock%.echo on 127%.0%.0%.1:%d+", out)
      assert.matches("\n< hello, echo\n", out)
      assert.matches("7 lines echoed, 0 mismatches\n$", out)
    end)

    it("sends the lines of stdin to HOST PORT", function()
      local pid, p, line = start_server("0 127.0.0.1")
      local input = tmpfile_with("first line\nsecond line\r\nthird, no end")
      local ok, err = pcall(function()
        local port = assert(line and line:match(":(%d+)$"), tostring(line))
        local out, status = run("echo_client.lua", "127.0.0.1 " .. port, nil, " < " .. input)
        assert.equal(0, status, out)
        has_all(out, {"< first line\n", "< second line\n", "< third, no end\n"})
        assert.matches("3 lines echoed, 0 mismatches\n$", out)
      end)
      os.remove(input)
      stop_server(pid, p)
      assert(ok, err)
    end)
  end)

  describe("concurrent_clients.lua", function()
    it("runs 1000 clients by default and checks every reply", function()
      local out, status = run("concurrent_clients.lua")
      assert.equal(0, status, out)
      assert.matches("1000 clients, 10 round trips each", out)
      assert.matches("clients: 1000 ok, 0 failed; round trips: 10000; elapsed: [%d.]+ s; "
                     .. "%d+ round trips/s", out)
    end)

    it("lowers N to what the descriptor limit allows, and says so", function()
      local out, status = run("concurrent_clients.lua", "1000", "ulimit -n 64; ")
      assert.equal(0, status, out)
      assert.matches("the descriptor limit %(ulimit %-n%) is 64 and each client needs 2: "
                     .. "running 20 clients instead of 1000", out)
      assert.matches("clients: 20 ok, 0 failed; round trips: 200;", out)
    end)

    it("runs against HOST PORT", function()
      local pid, p, line = start_server("0 127.0.0.1")
      local ok, err = pcall(function()
        local port = assert(line and line:match(":(%d+)$"), tostring(line))
        local out, status = run("concurrent_clients.lua", "50 127.0.0.1 " .. port)
        assert.equal(0, status, out)
        assert.is_nil(out:find("started lunasock.echo", 1, true))
        assert.matches("clients: 50 ok, 0 failed; round trips: 500;", out)
      end)
      stop_server(pid, p)
      assert(ok, err)
    end)
  end)

  describe("http_get.lua", function()
    it("fetches from its own server, following the redirect, with -i the head first", function()
      local out, status = run("http_get.lua", "-i")
      assert.equal(0, status, out)
      local port = assert(out:match("^listening on 127%.0%.0%.1:(%d+)\n"), out)
      assert.is_truthy(tonumber(port))
      -- the 302 from "/" was followed: the head shown is the 200's
      assert.matches("\nHTTP/1%.1 200 OK\r\n.*\r\n\r\nhello from lunasock%.http\n$", out)
    end)

    it("exits 1 with the error code when the connection fails", function()
      local l, port = helper.listener()
      l:close()
      local out, status = run("http_get.lua", "127.0.0.1:" .. port .. "/")
      assert.equal(1, status, out)
      assert.matches("ECONNREFUSED", out)
    end)
  end)

  describe("https_get.lua", function()
    it("fetches twice from its own HTTPS server, verified, on one connection", function()
      local out, status = run("https_get.lua")
      assert.equal(0, status, out)
      has_all(out, {"listening on 127.0.0.1:", "hello over TLS, /\n",
                    "hello over TLS, /again\n", "verified: true"})
      local _, n = out:gsub("session reused: false", "")
      assert.equal(2, n, out)
    end)

    it("exits 1 with the error code when the connection fails", function()
      local l, port = helper.listener()
      l:close()
      local out, status = run("https_get.lua", "https://127.0.0.1:" .. port .. "/")
      assert.equal(1, status, out)
      assert.matches("ECONNREFUSED", out)
    end)
  end)

  describe("tls_echo_server.lua", function()
    it("makes a throwaway certificate, echoes over TLS, and removes it on Ctrl-C", function()
      local lunasock = require "lunasock"
      -- --foreground: timeout passes SIGINT on once (lua5.4's handler is
      -- one-shot; a second one, to the process group, would kill it)
      local p = assert(io.popen(("echo $$; exec %s timeout --foreground %d %s "
                                 .. "examples/tls_echo_server.lua"):format(ENV, LIMIT, LUA)))
      local pid = assert(math.tointeger(tonumber(p:read("l"))))
      local ok, err = pcall(function()
        -- the listening line first, as every server prints it (the
        -- certificate's line came first, before any "listening on")
        local host, port = assert(p:read("l")):match("^listening on (.+):(%d+)$")
        assert(port, "no listening line")
        local cert = assert(p:read("l"):match("^certificate: (.+)$"))
        local s <close> = assert(lunasock.tcp.connect(host, tonumber(port), {
          timeout = helper.TIMEOUT, tls = {cafile = cert}}))
        assert(s:send("hello"))
        assert.equal("hello", s:recv(5))
        assert.is_true(s:info().verified)
        assert.is_truthy(io.open(cert))
        os.execute("kill -INT " .. pid)
        assert.equal("", p:read("a"))
        assert.is_nil(io.open(cert))
      end)
      os.execute("kill " .. pid .. " 2>/dev/null")
      p:close()
      assert(ok, err)
    end)
  end)

  describe("the listening examples", function()
    -- "--port 80a" was taken as no port: the server listened on a random
    -- one, and http_get.lua's --timeout x as no timeout
    for _, case in ipairs{{"http_server.lua", "--port", "80a"}, {"http_stream.lua", "--port", "x"},
                          {"static_site.lua", "--port", "1.5"}, {"http_get.lua", "--port", "x"},
                          {"http_get.lua", "--timeout", "soon"},
                          {"tls_echo_server.lua", "--port", "x"}} do
      it(case[1] .. " refuses " .. case[2] .. " " .. case[3] .. " with its usage", function()
        local out, status = run(case[1], case[2] .. " " .. case[3])
        assert.equal(2, status, out)
        assert.matches("^usage: ", out)
      end)
    end
  end)
end)
