-- Runs examples/chat_server.lua and examples/chat_client.lua as child
-- processes (this tree's modules, the build directory from
-- $LUNASOCK_BUILD as in .busted), each bounded by timeout(1), with nc
-- (netcat-openbsd) and a blocking core socket as the other clients.
local core = require "lunasock.core"
local helper = require "helper"

local LIMIT = 15   -- seconds any one child may run (timeout(1))
local command = helper.example_command   -- bounded by LIMIT too

local function has_nc()
  return os.execute("command -v nc >/dev/null 2>&1") == true
end

-- Starts chat_server.lua; returns its pid (the timeout process, which
-- passes a TERM on), the popen handle and the port it printed.
local function start_server(args)
  local pid, p, line = helper.example_start("chat_server.lua", args, " 2>/dev/null")
  local port = tonumber(line and line:match("^listening on 127%.0%.0%.1:(%d+)$"))
  return pid, p, port, line
end

local stop_server = helper.stop_child

-- A blocking client in this process: connect, join as nick.
local function watcher(port, nick)
  local s = assert(core.socket("inet", "stream"))
  s:settimeout(helper.TIMEOUT)
  assert(s:connect("127.0.0.1", port))
  local w = {sock = s, buf = ""}
  function w.line()
    while true do
      local i = w.buf:find("\n", 1, true)
      if i then
        local line = w.buf:sub(1, i - 1):gsub("\r$", "")
        w.buf = w.buf:sub(i + 1)
        return line
      end
      local data, err = s:recv(4096)
      assert(data and data ~= "", "no line: " .. tostring(err or "EOF"))
      w.buf = w.buf .. data
    end
  end
  function w.expect(want)
    while true do
      local line = w.line()
      if line == want then return line end
    end
  end
  assert(s:send(nick .. "\r\n"))
  w.expect("*** you are " .. nick)
  assert(w.line():match("^%*%*%* %d+ users? in "))
  return w
end

-- Runs a shell command to the end; its output and exit status.
local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local _, _, status = p:close()
  return out, status
end

describe("chat examples", function()
  describe("chat_client.lua", function()
    it("plays a conversation on its own server when given no arguments", function()
      local out, status = run(command("chat_client.lua"))
      assert.equal(0, status, out)
      for _, want in ipairs{
        "started lunasock.chat on 127.0.0.1:",
        "bob   < *** error: nickname 'Alice' is taken",
        "bob   < <alice> hi bob, welcome",
        "alice < * bob waves",
        "alice < *bob* psst, only you see this",
        "alice < *** bob is now known as robert",
        "alice < *** robert left (quit: time to go)",
        "conversation over",
      } do
        assert.truthy(out:find(want, 1, true), ("lacks %q:\n%s"):format(want, out))
      end
    end)

    it("exits 1 with a message when nobody listens", function()
      local l, port = helper.listener()
      l:close()
      local out, status = run(command("chat_client.lua", "127.0.0.1 " .. port .. " x </dev/null"))
      assert.equal(1, status, out)
      assert.matches("Connection refused", out)
    end)
  end)

  describe("chat_server.lua", function()
    it("prints its address and serves nc and chat_client.lua", function()
      assert.is_true(has_nc(), "nc (netcat-openbsd) is needed")
      local pid, p, port, line = start_server("--host 127.0.0.1 --port 0")
      local ok, err = pcall(function()
        assert.is_number(port, "first line: " .. tostring(line))
        local w = watcher(port, "watcher")
        local _sock <close> = w.sock

        -- nc: all of its input at once; the server answers in order, says
        -- bye to /quit and closes, and nc ends on that
        local out, status = run(("printf 'carol\\nhello from nc \\033[1mbold\\n/who\\n"
          .. "/msg watcher psst\\n/quit gone\\n' | %stimeout %d nc 127.0.0.1 %d")
          :format(helper.TOOL, LIMIT, port))
        assert.equal(0, status, out)
        assert.truthy(out:find("*** you are carol\r\n", 1, true), out)
        assert.truthy(out:find("*** 2 users in lobby: carol, watcher\r\n", 1, true), out)
        assert.truthy(out:find("-> *watcher* psst\r\n", 1, true), out)
        assert.matches("%*%*%* bye\r\n$", out)
        assert.equal("*** carol joined", w.line())
        assert.equal("<carol> hello from nc [1mbold", w.line())
        assert.equal("*carol* psst", w.line())
        assert.equal("*** carol left (quit: gone)", w.line())

        -- chat_client.lua with a pipe on stdin: the nick from the command
        -- line, the lines of stdin, and at their end a clean exit
        out, status = run(("printf 'hello from the client\\n/join games\\n' | %s")
          :format(command("chat_client.lua", "127.0.0.1 " .. port .. " dave")))
        assert.equal(0, status, out)
        assert.truthy(out:find("*** you are dave\n", 1, true), out)
        assert.truthy(out:find("*** 1 user in games: dave\n", 1, true), out)
        assert.equal("*** dave joined", w.line())
        assert.equal("<dave> hello from the client", w.line())
        assert.equal("*** dave left (moved to games)", w.line())

        -- the added /join shows in /help
        assert(w.sock:send("/help\n"))
        w.expect("*** commands:")
        assert.equal("***   /help  this list", w.line())
        assert.equal("***   /join ROOM  move to another room (made on first use)", w.line())
      end)
      stop_server(pid, p)
      assert(ok, err)
    end)

    it("applies --max-line and rejects bad arguments", function()
      local pid, p, port, line = start_server("--port 0 --max-line 10")
      local ok, err = pcall(function()
        assert.is_number(port, "first line: " .. tostring(line))
        local w = watcher(port, "w")
        local _sock <close> = w.sock
        assert(w.sock:send("0123456789x\n/who\n"))
        assert.equal("*** error: line too long (over 10 bytes), discarded", w.line())
        assert.equal("*** 1 user in lobby: w", w.line())
      end)
      stop_server(pid, p)
      assert(ok, err)
      local out, status = run(command("chat_server.lua", "--port nope"))
      assert.equal(2, status, out)
      assert.matches("usage: chat_server%.lua", out)
    end)
  end)
end)
