-- bin/lunasock, driven as a subprocess: lua5.4 bin/lunasock ..., each run
-- bounded by timeout(1). Servers are read up to their "listening on" line
-- and stopped by PID with SIGINT; clients talk to sockets this spec holds.
local core = require "lunasock.core"
local helper = require "helper"

local T = helper.TIMEOUT
local LIMIT = math.floor(T * 2)   -- seconds timeout(1) gives each child

local quote, slurp, status_of = helper.quote, helper.slurp, helper.exit_status

local spit = helper.write_file

local dir  -- a private directory per test (fifos, paths)

-- The bin/lunasock children (spec/helper.lua): start one without
-- waiting, wait for it, run one to the end, start a server and read its
-- address, end one with SIGINT.
local start, finish, run = helper.cli_start, helper.cli_finish, helper.cli_run
local start_server, interrupt = helper.cli_server, helper.cli_interrupt

local function tcp_client(host, port)
  local c = assert(core.socket("inet", "stream"))
  c:settimeout(T)
  assert(c:connect(host, port))
  return c
end

-- Reads from sock until EOF.
local function recv_all(sock)
  local parts = {}
  while true do
    local data, err = sock:recv(65536)
    assert(data, err)
    if data == "" then return table.concat(parts) end
    parts[#parts + 1] = data
  end
end

-- Every byte value, then some: the binary-safety payload.
local function payload(size)
  local bytes = {}
  for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
  local s = table.concat(bytes) .. "\r\n\0line\n"
  return s:rep(size // #s + 1):sub(1, size)
end

describe("bin/lunasock", function()
  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.rmdir(dir) end)

  describe("help and arguments", function()
    it("lists the subcommands with --help and exits 0", function()
      local status, out = run{"--help"}
      assert.equal(0, status)
      assert.truthy(out:find("usage: lunasock SUBCOMMAND", 1, true))
      for _, name in ipairs{"echo", "chat", "connect", "run"} do
        assert.truthy(out:find("\n  " .. name .. " ", 1, true), name)
      end
      local http = pcall(require, "lunasock.http")
      assert.equal(http, out:find("\n  get ", 1, true) ~= nil)
      assert.equal(http, out:find("\n  http ", 1, true) ~= nil)
    end)

    it("prints the version with --version", function()
      local status, out = run{"--version"}
      assert.equal(0, status)
      assert.truthy(out:match("^lunasock %d+%.%d+"), out)
      assert.equal(core._VERSION:match("[%d.]+$"), out:match("^lunasock ([%d.]+)"))
    end)

    local names = {"echo", "chat", "connect", "run"}
    if pcall(require, "lunasock.http") then
      names[#names + 1] = "http"
      names[#names + 1] = "get"
    end
    for _, name in ipairs(names) do
      it("shows the usage and options of " .. name .. " with --help and with help", function()
        local status, out, err = run{name, "--help"}
        assert.equal(0, status, err)
        assert.truthy(out:find("^usage: lunasock " .. name), out)
        assert.truthy(out:find("--help", 1, true))
        local status2, out2 = run{"help", name}
        assert.equal(0, status2)
        assert.equal(out, out2)
      end)
    end

    local bad = {
      {},
      {"bogus"},
      {"--bogus"},
      {"help", "bogus"},
      {"echo", "--bogus"},
      {"echo", "--port"},
      {"echo", "--port", "70000"},
      {"echo", "--port", "-1"},
      {"echo", "--port", "http"},
      {"echo", "--udp", "--unix", "x"},
      {"echo", "--unix", "x", "--port", "1"},
      {"echo", "--udp=yes"},
      {"echo", "extra"},
      {"chat", "--port", "1.5"},
      {"connect"},
      {"connect", "127.0.0.1"},
      {"connect", "127.0.0.1", "port"},
      {"connect", "127.0.0.1", "1", "2"},
      {"connect", "--wait", "soon", "127.0.0.1", "1"},
      {"connect", "-x", "127.0.0.1", "1"},
      {"run"},
      {"get"},
      {"get", "-x", "127.0.0.1/"},
      {"http", "--root"},
      -- past the library's 1e9 seconds: was a traceback from the library
      {"get", "--timeout", "1e10", "127.0.0.1:1/"},
      {"connect", "--timeout", "1e10", "127.0.0.1", "1"},
      {"connect", "--wait", "inf", "127.0.0.1", "1"},
      {"chat", "--stall-timeout", "1e10"},
    }
    for _, args in ipairs(bad) do
      it("exits 2 with the usage on stderr for: lunasock " .. table.concat(args, " "), function()
        local status, out, err = run(args)
        assert.equal(2, status, err)
        assert.equal("", out)
        assert.truthy(err:find("\nusage: lunasock", 1, true), err)
        assert.falsy(err:find("traceback", 1, true), err)
      end)
    end
  end)

  describe("echo", function()
    it("echoes over TCP and ends with status 0 on SIGINT", function()
      local proc, host, port = start_server{"echo", "--port", "0"}
      assert.equal("127.0.0.1", host)
      local c <close> = tcp_client(host, port)
      local data = payload(100000)
      local got = {}
      for i = 1, #data, 10000 do
        local piece = data:sub(i, i + 9999)
        assert.equal(#piece, c:send(piece))
        local n = 0
        while n < #piece do
          local r = assert(c:recv(#piece - n))
          assert.not_equal("", r)
          got[#got + 1], n = r, n + #r
        end
      end
      assert.equal(data, table.concat(got))
      local status, _, err = interrupt(proc)
      assert.equal(0, status, err)
      assert.equal("", err)
    end)

    it("listens on the host given with --host", function()
      local proc, host, port = start_server{"echo", "--host", "::1", "--port", "0"}
      assert.equal("::1", host)
      local c <close> = assert(core.socket("inet6", "stream"))
      c:settimeout(T)
      assert(c:connect("::1", port))
      assert(c:send("six"))
      assert.equal("six", c:recv(10))
      assert.equal(0, (interrupt(proc)))
    end)

    it("echoes UDP datagrams with --udp", function()
      local proc, host, port = start_server{"echo", "--udp", "--port", "0"}
      local s <close> = assert(core.socket("inet", "dgram"))
      s:settimeout(T)
      for _, msg in ipairs{"one", "two", payload(1000)} do
        assert(s:sendto(msg, host, port))
        local data, from_host, from_port = s:recvfrom(2000)
        assert.equal(msg, data)
        assert.equal(host, from_host)
        assert.equal(port, from_port)
      end
      assert.equal(0, (interrupt(proc)))
    end)

    it("echoes over a unix socket with --unix and removes it at the end", function()
      local path = dir .. "/echo.sock"
      local proc, where = start_server{"echo", "--unix", path}
      assert.equal(path, where)
      local c <close> = assert(core.socket("unix", "stream"))
      c:settimeout(T)
      assert(c:connect(path))
      assert(c:send("over unix\n"))
      assert.equal("over unix\n", c:recv(100))
      assert.equal(0, (interrupt(proc)))
      assert.is_nil(io.open(path))
    end)

    it("reports a port in use with status 1", function()
      local _l <close>, port = helper.listener()
      local status, out, err = run{"echo", "--port", tostring(port)}
      assert.equal(1, status)
      assert.equal("", out)
      assert.truthy(err:find("lunasock echo: ", 1, true), err)
      assert.falsy(err:find("traceback", 1, true), err)
    end)
  end)

  describe("connect", function()
    -- stdin from a pipe and from a file: all of it reaches the server,
    -- the end of stdin shuts the sending half, and the reply (binary
    -- too) comes out on stdout before a clean exit.
    for _, kind in ipairs{"pipe", "file"} do
      it("sends stdin from a " .. kind .. ", then copies replies until the peer closes", function()
        local l <close>, port = helper.listener()
        local input, reply = payload(70000), payload(40000):reverse()
        local file = dir .. "/input"
        spit(file, input)
        local redirect = kind == "pipe" and ("cat " .. quote(file) .. " |")
                         or ("< " .. quote(file))
        local proc = start({"connect", "127.0.0.1", tostring(port)}, {stdin = redirect})
        local s <close> = assert(l:accept())
        s:settimeout(T)
        assert.equal(input, recv_all(s))   -- ends: stdin's end shut the sending half
        assert(s:send(reply))
        s:close()
        local status, out, err = finish(proc)
        assert.equal(0, status, err)
        assert.equal(#reply, #out)
        assert.equal(reply, out)
        assert.equal("", err)
      end)
    end

    it("copies both ways at once and exits when the peer closes", function()
      local l <close>, port = helper.listener()
      local fifo = dir .. "/in"
      assert(os.execute("mkfifo " .. quote(fifo)))
      local proc = start({"connect", "127.0.0.1", tostring(port)}, {stdin = "< " .. quote(fifo)})
      -- opened after the start, so that the child does not inherit it
      local w <close> = assert(io.open(fifo, "r+b"))   -- stdin stays open
      local s <close> = assert(l:accept())
      s:settimeout(T)
      for i = 1, 3 do
        w:write("ping " .. i .. "\n")
        w:flush()
        assert.equal("ping " .. i .. "\n", s:recv(100))
        assert(s:send("pong " .. i .. "\n"))
        assert.equal("pong " .. i, proc.out:read("l"))
      end
      assert(s:send("bye\0\255\n"))
      s:close()
      local status, out, err = finish(proc)
      assert.equal(0, status, err)
      assert.equal("bye\0\255\n", out)
    end)

    it("sends UDP datagrams with --udp and ends --wait seconds after stdin", function()
      local u <close> = assert(core.socket("inet", "dgram"))
      u:settimeout(T)
      assert(u:bind("127.0.0.1", 0))
      local _, port = u:getsockname()
      local fifo = dir .. "/in"
      assert(os.execute("mkfifo " .. quote(fifo)))
      local proc = start({"connect", "--udp", "--wait", "0.2", "127.0.0.1", tostring(port)},
                         {stdin = "< " .. quote(fifo)})
      local w = assert(io.open(fifo, "r+b"))   -- after the start: not inherited
      w:write("ping\n")
      w:flush()
      local data, host, from = u:recvfrom(100)
      assert.equal("ping\n", data)
      assert(u:sendto("pong\n", host, from))
      assert.equal("pong", proc.out:read("l"))
      w:close()                             -- the end of stdin
      local t0 = core.monotime()
      local status, out, err = finish(proc)
      assert.equal(0, status, err)
      assert.equal("", out)
      assert.is_true(core.monotime() - t0 >= 0.15)
    end)

    it("ends with status 130 and no traceback on SIGINT", function()
      local l <close>, port = helper.listener()
      local fifo = dir .. "/in"
      assert(os.execute("mkfifo " .. quote(fifo)))
      local proc = start({"connect", "127.0.0.1", tostring(port)}, {stdin = "< " .. quote(fifo)})
      local w <close> = assert(io.open(fifo, "r+b"))
      local s <close> = assert(l:accept())
      s:settimeout(T)
      w:write("up\n")
      w:flush()
      assert.equal("up\n", s:recv(100))   -- running: both tasks wait now
      local status, out, err = interrupt(proc)
      assert.equal(130, status)
      assert.equal("", out)
      assert.equal("", err)
      assert.equal("", s:recv(100))        -- the connection was closed
    end)

    it("reports a refused connection with status 1", function()
      local l, port = helper.listener()
      l:close()
      local status, out, err = run{"connect", "127.0.0.1", tostring(port)}
      assert.equal(1, status)
      assert.equal("", out)
      assert.truthy(err:find("lunasock connect: 127.0.0.1:" .. port .. ": ", 1, true), err)
      assert.truthy(err:lower():find("refused", 1, true), err)
    end)

    it("writes an IPv6 address in brackets in its messages", function()
      local l, port = helper.listener("::1")
      l:close()
      local status, _, err = run{"connect", "::1", tostring(port)}
      assert.equal(1, status)
      assert.truthy(err:find("lunasock connect: [::1]:" .. port .. ": ", 1, true), err)
    end)

    it("takes --timeout 0 as no limit, as get does (it failed at once)", function()
      local l <close>, port = helper.listener()
      local proc = start({"connect", "--timeout", "0", "127.0.0.1", tostring(port)},
                         {stdin = "< /dev/null"})
      local s <close> = assert(l:accept())
      s:settimeout(T)
      assert(s:send("reply\n"))
      s:close()
      local status, out, err = finish(proc)
      assert.equal(0, status, err)
      assert.equal("reply\n", out)
    end)
  end)

  describe("run", function()
    it("runs a script inside the loop: cosockets, arg and ...", function()
      local script = dir .. "/script.lua"
      spit(script, [[
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
print("args", arg[0] == ..., select("#", ...), ...)
print("arg", arg[1], arg[2], arg[-1])
local l = assert(lunasock.tcp.listen("127.0.0.1", 0))
local _, port = l:getsockname()
local server = loop.spawn(function()
  local c = assert(l:accept())
  c:send("hello " .. c:recv(100))
  c:close()
  l:close()
  return "served"
end)
-- the server task runs while this one waits in recv
print("in task", loop.current() ~= nil)
local c = assert(lunasock.tcp.connect("127.0.0.1", port))
c:send("world")
print(c:recv(100))
c:close()
print(server:join())
]])
      local status, out, err = run{"run", script, "one", "--two"}
      assert.equal(0, status, err)
      assert.equal("args\tfalse\t2\tone\t--two\narg\tone\t--two\trun\n"
                   .. "in task\ttrue\nhello world\nserved\n", out)
      assert.equal("", err)
    end)

    it("runs a script that calls loop.run itself, as lua5.4 does (issue 10)", function()
      local script = dir .. "/selfrun.lua"
      spit(script, [[
local loop = require "lunasock.loop"
local lunasock = require "lunasock"
local server = assert(lunasock.tcp.serve("127.0.0.1", 0, function(s)
  s:write("hi ", s:readline(), "\n")
end))
print(loop.run(function()
  local c = require("lunasock.stream").new(assert(lunasock.tcp.connect("127.0.0.1", server.port)))
  c:write("there\n")
  local line = c:readline()
  server:close()
  return line
end))
print(loop.run())
]])
      for _, argv in ipairs{{"run", script}, {script}} do
        local status, out, err
        if argv[1] == "run" then
          status, out, err = run(argv)
        else
          local p = io.popen(("%s %s %s 2>&1; echo \"status $?\""):format(
                                helper.LUA_ENV, helper.LUA, script))
          out = p:read("a")
          p:close()
          status = tonumber(out:match("status (%d+)\n$"))
          out = out:gsub("status %d+\n$", "")
        end
        assert.equal(0, status, err)
        assert.equal("hi there\ntrue\n", out)
      end
    end)

    it("sets arg[0] to the script", function()
      local script = dir .. "/zero.lua"
      spit(script, "print(arg[0])\n")
      local status, out = run{"run", script}
      assert.equal(0, status)
      assert.equal(script .. "\n", out)
    end)

    it("reads the script from stdin with -", function()
      local status, out = run({"run", "-", "x"}, {stdin = "echo 'print(...)' |"})
      assert.equal(0, status)
      assert.equal("x\n", out)
    end)

    it("prints a traceback and exits 1 when the script fails", function()
      local script = dir .. "/fail.lua"
      spit(script, "local function inner() error('boom') end\ninner()\n")
      local status, out, err = run{"run", script}
      assert.equal(1, status)
      assert.equal("", out)
      assert.truthy(err:find("fail.lua:1: boom", 1, true), err)
      assert.truthy(err:find("stack traceback:", 1, true), err)
      assert.truthy(err:find("in local 'inner'", 1, true), err)
    end)

    it("keeps running when another task fails, and exits 0", function()
      local script = dir .. "/other.lua"
      spit(script, [[
local loop = require "lunasock.loop"
loop.spawn(function() error("task trouble") end)
loop.sleep(0.01)
print("still here")
]])
      local status, out, err = run{"run", script}
      assert.equal(0, status)
      assert.equal("still here\n", out)
      assert.truthy(err:find("task trouble", 1, true), err)
    end)

    it("reports a missing script with status 1", function()
      local status, _, err = run{"run", dir .. "/missing.lua"}
      assert.equal(1, status)
      assert.truthy(err:find("cannot open", 1, true), err)
    end)
  end)

  describe("http and get", function()
    if not pcall(require, "lunasock.http") then
      it("are left out while lunasock.http is missing", function()
        pending("lunasock.http is not there")
      end)
      return
    end

    it("serve a directory with http --root and fetch from it with get", function()
      local root = dir .. "/site"
      assert(os.execute("mkdir " .. quote(root)))
      local data = payload(50000)
      spit(root .. "/data.bin", data)
      spit(root .. "/index.html", "<p>home</p>\n")
      local server, host, port = start_server{"http", "--root", root, "--port", "0"}
      local base = ("%s:%d"):format(host, port)
      local status, out, err = run{"get", base .. "/data.bin"}
      assert.equal(0, status, err)
      assert.equal(data, out)
      status, out = run{"get", "-i", "http://" .. base .. "/"}
      assert.equal(0, status)
      assert.truthy(out:find("^HTTP/1%.1 200 OK\r\n"), out)
      assert.truthy(out:find("\r\nContent-Length: 12\r\n", 1, true), out)
      assert.equal("\r\n\r\n<p>home</p>\n", out:sub(-16))
      status, out = run{"get", base .. "/missing"}
      assert.equal(1, status)
      assert.truthy(out:find("Not Found", 1, true), out)
      -- a client that is not lunasock
      local c <close> = tcp_client(host, port)
      assert(c:send("GET /index.html HTTP/1.0\r\n\r\n"))
      local reply = recv_all(c)
      assert.truthy(reply:find("^HTTP/1%.[01] 200"), reply)
      assert.equal("\r\n\r\n<p>home</p>\n", reply:sub(-16))
      local sstatus, _, serr = interrupt(server)
      assert.equal(0, sstatus, serr)
    end)

    it("serve from worker processes with http --workers; SIGINT stops them all", function()
      local root = dir .. "/site"
      assert(os.execute("mkdir " .. quote(root)))
      spit(root .. "/index.html", "<p>home</p>\n")
      local server, host, port = start_server{"http", "--root", root, "--port", "0",
                                              "--workers", "2"}
      for _ = 1, 4 do
        local c <close> = tcp_client(host, port)
        assert(c:send("GET /index.html HTTP/1.0\r\n\r\n"))
        local reply = recv_all(c)
        assert.truthy(reply:find("^HTTP/1%.[01] 200"), reply)
        assert.equal("\r\n\r\n<p>home</p>\n", reply:sub(-16))
      end
      -- the parent reaps its workers before it exits; they hold its
      -- stdout too, so finish() reading it to EOF shows they are gone
      local sstatus, _, serr = interrupt(server)
      assert.equal(0, sstatus, serr)
      local status, _, err = run{"http", "--workers", "0"}
      assert.equal(2, status)
      assert.truthy(err:find("--workers needs a number", 1, true), err)
    end)

    it("report a missing root and a refused connection with status 1", function()
      local status, _, err = run{"http", "--root", dir .. "/none"}
      assert.equal(1, status)
      assert.truthy(err:find("not a directory", 1, true), err)
      local l, port = helper.listener()
      l:close()
      status, _, err = run{"get", "127.0.0.1:" .. port .. "/"}
      assert.equal(1, status)
      assert.truthy(err:lower():find("refused", 1, true), err)
    end)
  end)

  -- The README's walkthroughs, run as the README shows them: the code
  -- block of a section saved as a script for lunasock run.
  local function readme_section(title)
    local readme = slurp("README.md")
    local at = assert(readme:find("\n## " .. title .. "\n", 1, true), "no section " .. title)
    local stop = readme:find("\n## ", at + 1, true) or #readme
    return readme:sub(at, stop)
  end

  local function http_get(host, port, path)
    local c <close> = tcp_client(host, port)
    assert(c:send("GET " .. path .. " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    return recv_all(c)
  end

  describe("README.md", function()
    it("'Prototype a protocol in 5 minutes' answers the piped session shown", function()
      local doc = readme_section("Prototype a protocol in 5 minutes")
      local code = assert(doc:match("```lua\n(.-)```"), "no lua block")
      local input, expected = doc:match("%$ printf '(.-)' | lunasock connect [%d.]+ %d+\n(.-)```")
      assert(input, "no piped session")
      spit(dir .. "/server.lua", code)
      spit(dir .. "/input", (input:gsub("\\n", "\n")))
      local server, host, port = start_server{"run", dir .. "/server.lua", "0"}
      local status, out, err = run({"connect", host, tostring(port)},
                                   {stdin = "cat " .. quote(dir .. "/input") .. " |"})
      assert.equal(0, status, err)
      assert.equal(expected, out)
      -- a second client sees what the first one stored
      spit(dir .. "/input", "GET name\n")
      status, out = run({"connect", host, tostring(port)}, {stdin = "< " .. quote(dir .. "/input")})
      assert.equal(0, status)
      assert.equal("Ada\n", out)
      local sstatus, _, serr = interrupt(server)
      assert.equal(130, sstatus)
      assert.equal("", serr)
    end)

    it("'Prototype a protocol' answers two pipelined lines, both replies (issue 10)", function()
      local doc = readme_section("Prototype a protocol in 5 minutes")
      spit(dir .. "/server.lua", assert(doc:match("```lua\n(.-)```")))
      local server, host, port = start_server{"run", dir .. "/server.lua", "0"}
      local c <close> = tcp_client(host, port)
      for i = 1, 20 do
        assert(c:send(("SET k%d v%d\nGET k%d\n"):format(i, i, i)))   -- one segment
        local want, got = ("OK\nv%d\n"):format(i), ""
        while #got < #want do got = got .. assert(c:recv(100)) end
        assert.equal(want, got)
      end
      assert.equal(130, (interrupt(server)))
    end)

    it("'Prototype a protocol' survives accept EMFILE, its sessions intact (issue 10)", function()
      local doc = readme_section("Prototype a protocol in 5 minutes")
      spit(dir .. "/server.lua", assert(doc:match("```lua\n(.-)```")))
      local server, host, port = start_server({"run", dir .. "/server.lua", "0"}, {ulimit = 64})
      local function ask(c, line, want)
        assert(c:send(line .. "\n"))
        local got = ""
        while #got < #want + 1 do got = got .. assert(c:recv(100)) end
        assert.equal(want .. "\n", got)
      end
      local first <close> = tcp_client(host, port)
      ask(first, "SET k kept", "OK")
      -- more clients than the server has descriptors: the backlog holds
      -- the ones it cannot accept, and it hits EMFILE over and over
      local clients = {}
      for i = 1, 80 do
        clients[i] = tcp_client(host, port)
        assert(clients[i]:send("GET k\n"))
      end
      for i = 1, 20 do
        local got = ""
        while #got < 5 do got = got .. assert(clients[i]:recv(100)) end
        assert.equal("kept\n", got)
      end
      ask(first, "GET k", "kept")        -- the session open before is intact
      ask(first, "SET k again", "OK")
      -- the last client waits: it is beyond what the server can accept
      clients[80]:settimeout(0.2)
      assert.equal("ETIMEDOUT", select(3, clients[80]:recv(100)))
      clients[80]:settimeout(T)
      for i = 1, 40 do clients[i]:close() end   -- descriptors free up...
      for i = 41, 80 do                         -- ...and the rest are served
        local got = ""
        while not got:find("\n") do got = got .. assert(clients[i]:recv(100), "client " .. i) end
        assert.truthy(got == "kept\n" or got == "again\n", got)
        clients[i]:close()
      end
      ask(first, "GET k", "again")
      local status, _, err = interrupt(server)
      assert.equal(130, status)
      assert.equal("", err)
    end)

    it("'Serve HTTP in ten lines' serves what its session shows, in ten lines", function()
      local doc = readme_section("Serve HTTP in ten lines")
      local code = assert(doc:match("```lua\n(.-)```"), "no lua block")
      local lines = 0
      for line in code:gmatch("[^\n]*\n") do
        if line:find("%S") then lines = lines + 1 end
      end
      assert.is_true(lines <= 10, lines .. " lines")
      spit(dir .. "/hello.lua", code)
      local server, host, port = start_server{"run", dir .. "/hello.lua", "0"}
      local path, want = doc:match("%$ lunasock get [%d.:]+(/%S+)\n(.-)\n")
      assert(path, "no lunasock get session")
      local status, out, err = run{"get", host .. ":" .. port .. path}
      assert.equal(0, status, err)
      assert.equal(want .. "\n", out)
      local body = doc:match("%$ curl %-d '(.-)' http")
      assert(body, "no curl session")
      local c <close> = tcp_client(host, port)
      assert(c:send(("POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     .. "Content-Length: %d\r\n\r\n%s"):format(#body, body)))
      local reply = recv_all(c)
      assert.truthy(reply:find("^HTTP/1.1 200 "), reply)
      assert.equal(body, reply:match("\r\n\r\n(.*)$"))
      assert.truthy(http_get(host, port, "/"):find("\r\n\r\nhello world\n$"))
      assert.equal(130, (interrupt(server)))
    end)
  end)

  describe("chat", function()
    -- --reuseport and --handshake-timeout were missing: checked against
    -- chat.OPTIONS, so an option added later without a flag fails here.
    it("has a flag in --help for every chat.OPTIONS name that a command line can give",
       function()
      local chat = require "lunasock.chat"
      local status, help = run{"chat", "--help"}
      assert.equal(0, status)
      local NOT_FLAGS = {valid_nick = true, commands = true, help = true, on_event = true,
                         tls = "--tls-cert", reuseaddr = true}
      for name in pairs(chat.OPTIONS) do
        local flag = type(NOT_FLAGS[name]) == "string" and NOT_FLAGS[name]
                     or "--" .. name:gsub("_", "-")
        if NOT_FLAGS[name] ~= true then
          assert.truthy(help:find("\n  " .. flag:gsub("%-", "%%-") .. "[ \n]"), flag)
        end
      end
    end)

    it("takes every chat.serve option as a flag (issue 10)", function()
      local server, host, port = start_server{"chat", "--max-line", "5", "--greeting", "",
                                              "--eol", "lf", "--room", "hall",
                                              "--stall-timeout", "3", "--max-queue", "100000"}
      local c <close> = tcp_client(host, port)
      local got = ""
      local function upto(text)
        while not got:find(text, 1, true) do got = got .. assert(c:recv(1000)) end
      end
      assert(c:send("ann\n"))
      upto("in hall: ann\n")                    -- the room's name, LF line ends
      assert.equal("*** choose a nickname:\n", got:sub(1, 23))   -- no greeting
      assert.is_nil(got:find("\r", 1, true))
      assert(c:send("123456\n"))
      upto("over 5 bytes")
      assert.equal(0, (interrupt(server)))   -- Ctrl-C: status 0
      local status, _, err = run{"chat", "--max-queue", "lots"}
      assert.equal(2, status)
      assert.truthy(err:find("--max-queue needs an integer", 1, true), err)
      status, _, err = run{"chat", "--eol", "cr"}
      assert.equal(2, status)
      assert.truthy(err:find("--eol takes crlf or lf", 1, true), err)
    end)

    -- Two clients in Python, speaking lunasock.chat's protocol: the first
    -- line is the nickname, then lines go to the room; /nick, /msg and
    -- /quit are checked, and the join and leave notices.
    local client = [[
import socket, sys
host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

def connect():
    s = socket.create_connection((host, port), timeout=timeout)
    return s, s.makefile("rb")

def wait_for(f, text, what):
    while True:
        line = f.readline()          # bounded by the socket timeout
        if not line:
            sys.exit("end of stream waiting for " + what)
        if text in line:
            return line

a, fa = connect()
wait_for(fa, b"choose a nickname", "the prompt")
a.sendall(b"alice\r\n")
wait_for(fa, b"you are alice", "alice's nickname")
b, fb = connect()
b.sendall(b"bob\n")
wait_for(fb, b"you are bob", "bob's nickname")
wait_for(fa, b"*** bob joined", "bob's join notice at alice")
a.sendall(b"/nick ada\n")
wait_for(fb, b"alice is now known as ada", "the rename at bob")
a.sendall(b"hello from a\n")
wait_for(fb, b"<ada> hello from a", "ada's line at bob")
b.sendall(b"/msg ada psst\n")
wait_for(fa, b"*bob* psst", "bob's private message")
a.sendall(b"/quit\n")
while fa.readline():
    pass
wait_for(fb, b"*** ada left", "ada's leave notice")
print("ok")
]]

    it("serves a chat room to clients that are not lunasock (python3)", function()
      local server, host, port = start_server{"chat", "--port", "0"}
      spit(dir .. "/client.py", client)
      local p = assert(io.popen((helper.TOOL .. "timeout %d python3 %s %s %d %s 2>&1"):format(
        LIMIT, quote(dir .. "/client.py"), host, port, T)))
      local out = p:read("a")
      local status = status_of(p:close())
      assert.equal(0, status, out)
      assert.equal("ok\n", out)
      local sstatus, _, err = interrupt(server)
      assert.equal(0, sstatus, err)
      assert.equal("", err)
    end)
  end)
end)
