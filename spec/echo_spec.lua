-- lunasock.echo: TCP, UDP and unix echo servers, back-pressure, EMFILE.
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local echo = require "lunasock.echo"
local helper = require "helper"
local core = lunasock.core

-- Runs fn(server) as the main task with an echo server of opts; closes the
-- server when fn returns, so the loop ends.
local function with_server(opts, fn)
  local results = table.pack(loop.run(function()
    local server = assert(echo.serve(opts))
    local guard = loop.after(helper.TIMEOUT * 2, function() server:close() end)
    local r = table.pack(pcall(fn, server))
    guard:cancel()
    server:close()
    assert(r[1], r[2])
    return table.unpack(r, 2, r.n)
  end))
  assert(results[1] ~= nil or results.n == 0, results[2])
  return table.unpack(results, 1, results.n)
end

describe("lunasock.echo", function()
  it("echoes over TCP to many concurrent clients", function()
    with_server({port = 0}, function(server)
      local tasks = {}
      for i = 1, 200 do
        tasks[i] = loop.spawn(function()
          local c <close> = assert(lunasock.tcp.connect("127.0.0.1", server.port,
                                                         {timeout = helper.TIMEOUT}))
          local msg = ("client %d says hello\n"):format(i)
          assert(c:send(msg))
          local got = ""
          while #got < #msg do got = got .. assert(c:recv(100)) end
          return got == msg
        end)
      end
      for _, t in ipairs(tasks) do assert.is_true(t:join()) end
    end)
  end)

  it("echoes UDP datagrams", function()
    with_server({proto = "udp", port = 0}, function(server)
      local c <close> = assert(lunasock.udp.connect("127.0.0.1", server.port,
                                                     {timeout = helper.TIMEOUT}))
      for i = 1, 10 do
        assert(c:send("datagram " .. i))
        assert.equal("datagram " .. i, c:recv(100))
      end
    end)
  end)

  it("refuses connection options with proto 'udp' (tls must never mean plaintext)", function()
    for _, o in ipairs{{tls = {cert = "c.pem", key = "k.pem"}}, {max_conns = 5}, {timeout = 1},
                       {handshake_timeout = 1}} do
      o.proto, o.port = "udp", 0
      local ok, err = pcall(echo.serve, o)
      assert.is_false(ok)
      assert.matches("does not apply to proto 'udp'", err, 1, true)
    end
    -- reuseaddr and reuseport do apply: two UDP echo servers on one port
    with_server({proto = "udp", port = 0, reuseaddr = true}, function(server)
      local other = assert(echo.serve{proto = "udp", port = server.port, reuseaddr = true})
      assert.equal(server.port, other.port)
      other:close()
    end)
    assert.is_true(loop.run(function() return true end))   -- nothing left running
  end)

  it("echoes over a unix socket", function()
    local dir = helper.tmpdir()
    with_server({proto = "unix", path = dir .. "/echo"}, function(server)
      local c <close> = assert(lunasock.unix.connect(server.path, {timeout = helper.TIMEOUT}))
      assert(c:send("over unix"))
      assert.equal("over unix", c:recv(100))
    end)
    helper.rmdir(dir)
  end)

  it("echoes over a unix seqpacket socket (option type, as documented)", function()
    local dir = helper.tmpdir()
    with_server({proto = "unix", path = dir .. "/seq", type = "seqpacket"}, function(server)
      local c <close> = assert(lunasock.unix.connect(server.path, {type = "seqpacket",
                                                                   timeout = helper.TIMEOUT}))
      assert.equal("seqpacket", select(2, c:socktype()))
      assert(c:send("one"))
      assert(c:send("two"))
      assert.equal("one", c:recv(100))   -- message boundaries kept
      assert.equal("two", c:recv(100))
    end)
    helper.rmdir(dir)
    for _, proto in ipairs{"tcp", "udp"} do
      local ok, err = pcall(echo.serve, {proto = proto, port = 0, type = "seqpacket"})
      assert.is_false(ok)
      assert.matches("option 'type' does not apply to proto '" .. proto .. "'", err, 1, true)
    end
  end)

  it("a client that never reads does not stall the others", function()
    with_server({port = 0}, function(server)
      local hog <close> = assert(core.socket("inet", "stream"))
      assert(hog:connect("127.0.0.1", server.port))
      hog:settimeout(0)
      -- send until the kernel refuses more: the server's echo of it is
      -- stuck in send because the hog never reads
      local chunk, sent = string.rep("h", 65536), 0
      for _ = 1, 2000 do
        local n = hog:send(chunk)
        if not n then break end
        sent = sent + n
        if sent > 64 * 1024 * 1024 then break end
        loop.sleep(0)  -- let the server task run and fill its side
      end
      assert.is_true(sent > 0)
      -- meanwhile another client is served promptly
      local c <close> = assert(lunasock.tcp.connect("127.0.0.1", server.port,
                                                     {timeout = helper.TIMEOUT}))
      assert(c:send("still here"))
      assert.equal("still here", c:recv(100))
      -- and the server holds no more than one read for the hog
      assert.is_true(collectgarbage("count") < 64 * 1024)
    end)
  end)

  it("keeps serving after running out of descriptors (EMFILE)", function()
    -- a child echo server with a low descriptor limit
    local child = io.popen(("echo $$; ulimit -n 40 && exec %s %s examples/echo_server.lua 0")
                           :format(helper.LUA_ENV, helper.LUA), "r")
    local pid = tonumber(child:read("l"))  -- the shell's pid, kept by exec
    local line = child:read("l")
    local port = tonumber(line and line:match(":(%d+)$"))
    assert(port, "no port from the child: " .. tostring(line))
    local clients = {}
    local function client()
      local c = assert(core.socket("inet", "stream"))
      c:settimeout(helper.TIMEOUT)
      assert(c:connect("127.0.0.1", port))
      clients[#clients + 1] = c
      return c
    end
    -- more clients than the child has descriptors: the backlog holds them
    for _ = 1, 60 do client():send("x") end
    -- the first ones are echoed; the child then hits EMFILE
    for i = 1, 20 do assert.equal("x", clients[i]:recv(1)) end
    -- free descriptors in the child by closing the served clients...
    for i = 1, 30 do clients[i]:close() end
    -- ...and every waiting client is served in the end
    for i = 31, 60 do assert.equal("x", clients[i]:recv(1), "client " .. i) end
    for i = 31, 60 do clients[i]:close() end
    os.execute("kill " .. pid)
    child:close()
  end)

  it("can be closed before its tasks first run (no task fails)", function()
    local failures = helper.reports(loop.run, function()
      for _, opts in ipairs{{port = 0}, {proto = "udp", port = 0}} do
        local server = assert(echo.serve(opts))
        server:close()
      end
      local path = helper.tmpdir() .. "/echo.sock"
      local server = assert(echo.serve{proto = "unix", path = path})
      server:close()
      helper.rmdir(path:match("^(.*)/"))
    end)
    assert.same({}, failures)
  end)
end)
