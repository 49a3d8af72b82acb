-- lunasock.chat over loopback: clients are loop tasks reading lines with
-- lunasock.stream; every wait is bounded by helper.TIMEOUT (socket
-- timeouts) and every step synchronises on a line received.
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local chat = require "lunasock.chat"
local helper = require "helper"

local core = lunasock.core

-- Runs fn as the first task of a loop run; rethrows its failure (with
-- the task's traceback) in the test.
local function run(fn)
  local ok, err = loop.run(function()
    return xpcall(fn, debug.traceback)
  end)
  assert(ok, err)
end

local Client = {}
Client.__index = Client

-- A test client connected to server; opts.rcvbuf is set before connect.
local function connect(server, opts)
  opts = opts or {}
  local sock = assert(core.socket("inet", "stream"))
  if opts.rcvbuf then assert(sock:setopt("rcvbuf", opts.rcvbuf)) end
  sock:settimeout(helper.TIMEOUT)
  assert(sock:connect(server.host, server.port))
  return setmetatable({sock = sock, s = stream.new(sock), seen = {}}, Client)
end

-- The next line, or an error naming what came before.
function Client:line()
  local line, err = self.s:readline()
  if not line then
    error(("no line (%s) after:\n  %s"):format(err, table.concat(self.seen, "\n  ")), 2)
  end
  self.seen[#self.seen + 1] = line
  if #self.seen > 20 then table.remove(self.seen, 1) end
  return line
end

-- Reads lines until one equals text (plain) or, with a pattern, matches;
-- returns it.
function Client:expect(text, is_pattern)
  while true do
    local line = self:line()
    if is_pattern then
      if line:find(text) then return line end
    elseif line == text then
      return line
    end
  end
end

function Client:send(...)
  assert(self.s:write(table.concat({...}, "\n"), "\n"))
end

-- Waits for the prompt, gives nick, waits to be in.
function Client:join(nick)
  self:expect("*** choose a nickname:")
  self:send(nick)
  self:expect("*** you are " .. nick)
  self.nick = nick
  return self
end

-- true once the server has closed the connection (EOF)
function Client:at_eof()
  local line, err, code = self.s:readline()
  if line then self.seen[#self.seen + 1] = line end
  return line == nil and code == "EOF", line or err
end

function Client:close()
  if core.type(self.sock) == "socket" then self.sock:close() end
end

-- A server and the clients the test opens, all closed at the end.
local function setup(opts)
  opts = opts or {}
  opts.port = 0
  local server = assert(chat.serve(opts))
  local clients = {}
  local env = {server = server}
  function env.client(nick, copts)
    local c = connect(server, copts)
    clients[#clients + 1] = c
    if nick then c:join(nick) end
    return c
  end
  setmetatable(env, {__close = function()
    for _, c in ipairs(clients) do c:close() end
    server:close()
  end})
  return env
end

describe("lunasock.chat", function()
  describe("serve", function()
    it("returns a server with host, port, sock and close, served once the loop runs", function()
      run(function() end)           -- the loop's own descriptors, opened once
      local before = helper.fd_count()
      local server = assert(chat.serve{host = "127.0.0.1", port = 0})
      assert.equal("127.0.0.1", server.host)
      assert.is_true(math.type(server.port) == "integer" and server.port > 0)
      assert.equal("socket", core.type(server.sock))
      run(function()
        local c = connect(server)
        assert.equal("*** welcome to lunasock chat", c:line())
        assert.equal("*** choose a nickname:", c:line())
        c:close()
        server:close()
      end)
      assert.equal("closed socket", core.type(server.sock))
      assert.equal(before, helper.fd_count())
    end)

    it("serves when called inside a running loop", function()
      run(function()
        local env <close> = setup()
        env.client("alice")
      end)
    end)

    it("sends CRLF line ends by default and LF with eol = '\\n'", function()
      run(function()
        local env <close> = setup()
        local c = env.client()
        assert.equal("*** welcome to lunasock chat\r\n", c.s:read(30))
        local env2 <close> = setup{eol = "\n", greeting = "hi"}
        local c2 = env2.client()
        assert.equal("*** hi\n*** choose a nickname:\n", c2.s:read(30))
      end)
    end)

    it("raises on bad options", function()
      assert.has_error(function() chat.serve() end, "bad argument #1 to 'serve' (table expected)")
      assert.has_error(function() chat.serve{max_line = 0} end,
                       "chat.serve: max_line must be a positive integer")
      assert.has_error(function() chat.serve{max_queue = "big"} end,
                       "chat.serve: max_queue must be a positive integer")
      assert.has_error(function() chat.serve{idle_timeout = -1} end,
                       "chat.serve: idle_timeout must be a positive number of seconds")
      assert.has_error(function() chat.serve{eol = "\r"} end)
      assert.has_error(function() chat.serve{commands = {x = 1}} end)
      assert.has_error(function() chat.serve{on_event = true} end,
                       "chat.serve: on_event must be a function")
    end)

    it("returns nil, msg, code when the port is taken", function()
      local l, port = helper.listener()
      local _ <close> = l
      local server, err, code = chat.serve{host = "127.0.0.1", port = port, reuseaddr = false}
      assert.is_nil(server)
      assert.is_string(err)
      assert.equal("EADDRINUSE", code)
    end)
  end)

  describe("joining", function()
    it("announces joins to the others and lists the room to the newcomer", function()
      run(function()
        local env <close> = setup()
        local a = env.client("alice")
        assert.equal("*** 1 user in lobby: alice", a:line())
        local b = env.client("bob")
        assert.equal("*** 2 users in lobby: alice, bob", b:line())
        assert.equal("*** bob joined", a:line())
      end)
    end)

    it("refuses a taken nickname, whatever its case, and asks again", function()
      run(function()
        local env <close> = setup()
        env.client("alice")
        local b = env.client()
        b:expect("*** choose a nickname:")
        b:send("ALICE")
        assert.equal("*** error: nickname 'ALICE' is taken", b:line())
        assert.equal("*** choose a nickname:", b:line())
        b:send("alice")
        assert.equal("*** error: nickname 'alice' is taken", b:line())
        assert.equal("*** choose a nickname:", b:line())
        b:send("Alice2")
        assert.equal("*** you are Alice2", b:line())
      end)
    end)

    it("refuses invalid nicknames with the reason and asks again", function()
      run(function()
        local env <close> = setup()
        local c = env.client()
        c:expect("*** choose a nickname:")
        local cases = {
          {"", "a nickname cannot be empty"},
          {"with space", "use letters"},
          {"9lives", "use letters"},
          {"-dash", "use letters"},
          {"ünï", "use letters"},
          {"x/y", "use letters"},
          {string.rep("n", 17), "at most 16"},
        }
        for _, case in ipairs(cases) do
          c:send(case[1])
          local line = c:line()
          assert.matches("^%*%*%* error: ", line)
          assert.truthy(line:find(case[2], 1, true), line)
          assert.equal("*** choose a nickname:", c:line())
        end
        c:send(string.rep("n", 16))
        assert.equal("*** you are " .. string.rep("n", 16), c:line())
      end)
    end)

    it("lets a client /quit before choosing a nickname", function()
      run(function()
        local env <close> = setup()
        local c = env.client()
        c:expect("*** choose a nickname:")
        c:send("/quit")
        assert.equal("*** bye", c:line())
        assert.is_true(c:at_eof())
      end)
    end)

    -- "/nick alice" at the prompt was refused as an invalid nickname
    -- "/nick alice": what a user who read the command list types first
    it("takes /nick NAME at the prompt as the nickname", function()
      run(function()
        local env <close> = setup()
        local c = env.client()
        c:expect("*** choose a nickname:")
        c:send("/nick  alice ")
        assert.equal("*** you are alice", c:line())
      end)
    end)

    it("refuses connections past max_clients", function()
      run(function()
        local env <close> = setup{max_clients = 2}
        local a = env.client("alice")
        local b = env.client("bob")
        local c = env.client()
        assert.equal("*** error: server full, try again later", c:line())
        assert.is_true(c:at_eof())
        b:send("/quit")
        a:expect("*** bob left (quit)")
        local d = env.client("carol")   -- bob's place is free again
        assert.equal("*** 2 users in lobby: alice, carol", d:line())
      end)
    end)
  end)

  describe("messages", function()
    it("broadcasts a line to everyone else as <nick> text, not back to the sender", function()
      run(function()
        local env <close> = setup()
        local a, b, c = env.client("alice"), env.client("bob"), env.client("carol")
        a:send("hello room", "/who")
        assert.equal("<alice> hello room", b:expect("<alice>", true))
        assert.equal("<alice> hello room", c:expect("<alice>", true))
        assert.equal("*** 3 users in lobby: alice, bob, carol", a:expect("^%*%*%* 3 users", true))
        a:send("/who")     -- nothing of its own came back in between
        assert.equal("*** 3 users in lobby: alice, bob, carol", a:line())
      end)
    end)

    it("ignores empty lines and sends //text as /text", function()
      run(function()
        local env <close> = setup()
        local a, b = env.client("alice"), env.client("bob")
        a:send("", "   ", "//not a command", "after")
        assert.equal("<alice> /not a command", b:expect("<alice>", true))
        assert.equal("<alice> after", b:line())
      end)
    end)

    it("announces a client that disconnects", function()
      run(function()
        local env <close> = setup()
        local a, b = env.client("alice"), env.client("bob")
        b:close()
        assert.equal("*** bob left (connection closed)", a:expect("*** bob left", true))
        assert.is_nil(env.server:find("bob"))
      end)
    end)

    it("delivers each sender's messages in order to every receiver", function()
      run(function()
        local env <close> = setup()
        local N, nicks, clients = 300, {"s1", "s2", "s3", "r1", "r2"}, {}
        for i, nick in ipairs(nicks) do clients[i] = env.client(nick) end
        for i = 1, #clients - 1 do clients[i]:expect("*** r2 joined") end
        local tasks = {}
        for i = 1, 3 do        -- senders, interleaved ten lines at a time
          tasks[#tasks + 1] = loop.spawn(function()
            for k = 1, N, 10 do
              local lines = {}
              for j = k, k + 9 do lines[#lines + 1] = ("msg %d from %s"):format(j, nicks[i]) end
              clients[i]:send(table.concat(lines, "\n"))
              coroutine.yield()
            end
            return true
          end)
        end
        for r = 1, #clients do
          tasks[#tasks + 1] = loop.spawn(function()
            local c, last, ends = clients[r], {}, 0
            local expected = r <= 3 and 2 or 3      -- senders other than itself
            while ends < expected do
              local line = c:line()
              local n, from = line:match("^<(%w+)> msg (%d+) from")
              if n then
                from = tonumber(from)
                assert.equal((last[n] or 0) + 1, from, "at " .. nicks[r])
                last[n] = from
                if from == N then ends = ends + 1 end
              end
            end
            return true
          end)
        end
        for _, t in ipairs(tasks) do
          local ok, err = t:join()
          assert(ok ~= nil, err)
        end
      end)
    end)
  end)

  describe("commands", function()
    it("/nick changes the nickname, tells the room, frees the old one", function()
      run(function()
        local env <close> = setup()
        local a, b = env.client("alice"), env.client("bob")
        a:send("/nick al")
        assert.equal("*** you are now al", a:expect("*** you are now", true))
        assert.equal("*** alice is now known as al", b:expect("is now known", true))
        a:send("hi")
        assert.equal("<al> hi", b:line())
        local c = env.client("alice")            -- the old nick is free
        assert.equal("*** 3 users in lobby: al, alice, bob", c:line())
        b:send("/nick AL")
        assert.equal("*** error: nickname 'AL' is taken", b:expect("error", true))
        b:send("/nick b c")
        assert.matches("^%*%*%* error: invalid nickname 'b c'", b:line())
        b:send("/nick")
        assert.equal("*** error: usage: /nick NEW", b:line())
        a:send("/nick Al")                       -- its own, in another case
        assert.equal("*** you are now Al", a:expect("*** you are now", true))
      end)
    end)

    it("/who lists the room", function()
      run(function()
        local env <close> = setup()
        local a = env.client("zed")
        env.client("Bob")
        env.client("alice")
        a:send("/who")
        assert.equal("*** 3 users in lobby: alice, Bob, zed", a:expect("^%*%*%* 3 users", true))
      end)
    end)

    it("/msg reaches only the named client", function()
      run(function()
        local env <close> = setup()
        local a, b, c = env.client("alice"), env.client("bob"), env.client("carol")
        a:send("/msg BOB psst, a secret", "/msg nobody hi", "/msg bob", "public")
        assert.equal("*alice* psst, a secret", b:expect("*alice*", true))
        assert.equal("-> *bob* psst, a secret", a:expect("->", true))
        assert.equal("*** error: no such user: nobody", a:line())
        assert.equal("*** error: usage: /msg NICK TEXT", a:line())
        assert.equal("<alice> public", b:line())
        assert.equal("<alice> public", c:expect("<alice>", true))  -- no private line before
      end)
    end)

    it("/me shows an action to the others", function()
      run(function()
        local env <close> = setup()
        local a, b = env.client("alice"), env.client("bob")
        a:send("/me waves", "/me")
        assert.equal("* alice waves", b:expect("* alice", true))
        assert.equal("*** error: usage: /me ACTION", a:expect("error", true))
      end)
    end)

    it("/quit says bye, closes, and tells the others why", function()
      run(function()
        local env <close> = setup()
        local a, b = env.client("alice"), env.client("bob")
        b:send("/quit see you", "this line is never read as chat")
        assert.equal("*** bye", b:expect("*** bye"))
        assert.is_true(b:at_eof())
        assert.equal("*** bob left (quit: see you)", a:expect("*** bob left", true))
        a:send("/who")
        assert.equal("*** 1 user in lobby: alice", a:line())
        local c = env.client("bob")
        c:send("/QUIT")                    -- commands are case-insensitive
        assert.equal("*** bye", c:expect("*** bye"))
        assert.equal("*** bob left (quit)", a:expect("*** bob left", true))
      end)
    end)

    it("/help lists every command with its usage", function()
      run(function()
        local env <close> = setup()
        local a = env.client("alice")
        a:send("/help")
        assert.equal("*** commands:", a:expect("*** commands:"))
        local got = {}
        for _ = 1, 6 do got[#got + 1] = a:line() end
        assert.same({
          "***   /help  this list",
          "***   /me ACTION  tell the room what you are doing",
          "***   /msg NICK TEXT  send TEXT to NICK only",
          "***   /nick NEW  change your nickname",
          "***   /quit [MESSAGE]  leave",
          "***   /who  who is in the room",
        }, got)
        assert.matches("^%*%*%* other lines", a:line())
      end)
    end)

    it("answers an unknown command with an error line", function()
      run(function()
        local env <close> = setup()
        local a = env.client("alice")
        a:send("/frobnicate now", "/")
        assert.equal("*** error: unknown command /frobnicate (type /help)", a:expect("error", true))
        assert.equal("*** error: unknown command / (type /help)", a:line())
      end)
    end)
  end)

  describe("limits", function()
    it("takes a line of max_line bytes and discards a longer one, then reads on", function()
      run(function()
        local env <close> = setup{max_line = 20}
        local a, b = env.client("alice"), env.client("bob")
        local exact = string.rep("x", 20)
        a:send(exact, string.rep("y", 21), "next")
        assert.equal("<alice> " .. exact, b:expect("<alice>", true))
        assert.equal("<alice> next", b:line())
        assert.equal("*** error: line too long (over 20 bytes), discarded",
                     a:expect("error", true))
        -- with CRLF the CR does not count
        assert(a.s:write(exact, "\r\n", string.rep("z", 21), "\r\n", "crlf\r\n"))
        assert.equal("<alice> " .. exact, b:line())
        assert.equal("<alice> crlf", b:line())
      end)
    end)

    it("discards a huge line whole, holding no more than the limit", function()
      run(function()
        local env <close> = setup{max_line = 100}
        local a, b = env.client("alice"), env.client("bob")
        local huge = string.rep("h", 300000)
        assert(a.s:write(huge, "\nafter the huge line\n"))
        assert.equal("*** error: line too long (over 100 bytes), discarded",
                     a:expect("error", true))
        assert.equal("<alice> after the huge line", b:expect("<alice>", true))
        for c in pairs(env.server.clients) do
          assert.is_true(c.stream:buffered() < 100 + 2 + stream.DEFAULT_CHUNK)
        end
        a:send("/who")       -- one error only, for the whole line
        assert.equal("*** 2 users in lobby: alice, bob", a:line())
      end)
    end)

    it("refuses an over-long nickname line and asks again", function()
      run(function()
        local env <close> = setup{max_line = 30}
        local c = env.client()
        c:expect("*** choose a nickname:")
        c:send(string.rep("n", 31))
        assert.equal("*** error: line too long (over 30 bytes), discarded", c:line())
        assert.equal("*** choose a nickname:", c:line())
        c:send("ok")
        assert.equal("*** you are ok", c:line())
      end)
    end)

    it("drops a client that stops reading; the others go on and memory stays bounded", function()
      run(function()
        local max_queue = 16384
        local events = {}
        local env <close> = setup{max_queue = max_queue, stall_timeout = 1,
                                  on_event = function(kind, _, c, why)
          if kind == "leave" then events[#events + 1] = c.nick .. ": " .. tostring(why) end
          -- the kernel's share of the backlog, small for slow
          if kind == "join" and c.nick == "slow" then c.sock:setopt("sndbuf", 4096) end
        end}
        local server = env.server
        local sender, fast = env.client("sender"), env.client("fast")
        local slow = env.client("slow", {rcvbuf = 4096})     -- never reads again
        fast:expect("*** slow joined")
        collectgarbage()
        local base, peak, worst_queue = collectgarbage("count"), 0, 0
        local LINES, TEXT = 20000, string.rep("m", 900)      -- about 18 MB in all
        local writer = loop.spawn(function()
          for i = 1, LINES, 50 do
            local batch = {}
            for j = i, i + 49 do batch[#batch + 1] = j .. " " .. TEXT end
            sender:send(table.concat(batch, "\n"))
          end
          sender:send("done")
        end)
        local n, saw_drop = 0, false
        while true do
          local line = fast:line()
          if line:find("^%*%*%* slow left %(") then saw_drop = line
          elseif line == "<sender> done" then break
          else
            local k = tonumber(line:match("^<sender> (%d+) "))
            assert.equal(n + 1, k, line)
            n = k
          end
          if n % 500 == 0 then
            collectgarbage()
            peak = math.max(peak, collectgarbage("count") - base)
            for c in pairs(server.clients) do worst_queue = math.max(worst_queue, c.qbytes) end
          end
        end
        writer:join()
        assert.equal(LINES, n)
        -- the room held its senders back rather than queue past the mark;
        -- slow, which took nothing, was dropped for it
        assert.equal("*** slow left (output stalled for 1 s)", saw_drop)
        assert.same({"slow: output stalled for 1 s"}, events)
        assert.is_nil(server:find("slow"))
        assert.is_true(worst_queue <= max_queue, "queue " .. worst_queue)
        -- 18 MB went through; an unbounded queue would hold most of it
        assert.is_true(peak < 2 * 1024, ("memory grew by %.0f KiB"):format(peak))
        local data, _, code = "", nil, nil      -- its connection is gone
        while data do data, _, code = slow.s:read() end
        assert.is_truthy(code == "EOF" or code == "ECONNRESET", code)
      end)
    end)

    it("disconnects an idle client after idle_timeout", function()
      run(function()
        local env <close> = setup{idle_timeout = 0.2}
        local a = env.client("alice")
        local t0 = loop.now()
        assert.equal("*** idle timeout, bye", a:expect("*** idle timeout, bye"))
        assert.is_true(a:at_eof())
        assert.is_true(loop.now() - t0 >= 0.15)
      end)
    end)
  end)

  describe("robustness", function()
    it("strips control characters but tab, and passes UTF-8 through untouched", function()
      run(function()
        local env <close> = setup()
        local a, b = env.client("alice"), env.client("bob")
        local utf8_text = "héllo wörld — 日本語 🎉 ñ"
        a:send("\27[31mred\27[0m\0nul\7bell\bback\ttab\127del\r mid-CR")
        a:send(utf8_text)
        a:send("c1:\194\155x\194\133y \194\160nbsp")   -- CSI, NEL (C1) go; NBSP stays
        a:send("/me \27]0;title\7 sets a title")
        a:send("/msg bob \1ping\1")
        assert.equal("<alice> [31mred[0mnulbellback\ttabdel mid-CR", b:expect("<alice>", true))
        assert.equal("<alice> " .. utf8_text, b:line())
        assert.equal("<alice> c1:xy \194\160nbsp", b:line())
        assert.equal("* alice ]0;title sets a title", b:line())
        assert.equal("*alice* ping", b:line())
      end)
    end)

    it("survives a client that disconnects in the middle of a broadcast", function()
      run(function()
        local env <close> = setup()
        local sender = env.client("sender")
        local rs = {}
        for i = 1, 5 do rs[i] = env.client("r" .. i) end
        for i = 1, 4 do rs[i]:expect("*** r5 joined") end
        sender:expect("*** r5 joined")
        local N = 3000
        local w = loop.spawn(function()
          for i = 1, N, 100 do
            local batch = {}
            for j = i, i + 99 do batch[#batch + 1] = "line " .. j end
            sender:send(table.concat(batch, "\n"))
            coroutine.yield()
          end
        end)
        local tasks = {}
        for i = 1, 5 do
          tasks[i] = loop.spawn(function()
            local c, n = rs[i], 0
            while n < N do
              local line = c:line()
              local k = tonumber(line:match("^<sender> line (%d+)$"))
              if k then
                assert.equal(n + 1, k)
                n = k
                if i == 3 and n == 500 then
                  c.sock:setopt("linger", 0)   -- abort: RST, unread data lost
                  c:close()
                  return "gone"
                end
              end
            end
            return n
          end)
        end
        for i = 1, 5 do
          local r, err = tasks[i]:join()
          assert(r, err)
          assert.equal(i == 3 and "gone" or N, r)
        end
        w:join()
        sender:expect("^%*%*%* r3 left", true)
        local late = env.client("late")    -- the server still serves
        assert.equal("*** 6 users in lobby: late, r1, r2, r4, r5, sender", late:line())
      end)
    end)

    it("server:close() drops every connection, joined or not, and its tasks end", function()
      local failures = helper.reports(run, function()
        local server = assert(chat.serve{port = 0})
        local a, b = connect(server), connect(server)
        a:join("alice")
        b:expect("*** choose a nickname:")
        server:close()
        for _, c in ipairs{a, b} do
          local line, code = "", nil
          while line do line, _, code = c.s:readline() end
          assert.is_truthy(code == "EOF" or code == "ECONNRESET", code)
          c:close()
        end
        -- closed before the loop ever ran its accept task
        local early = assert(chat.serve{port = 0})
        early:close()
      end)
      assert.same({}, failures)
    end)

    it("leaks no descriptors when clients come and go", function()
      local before = helper.fd_count()
      run(function()
        local env <close> = setup()
        local a = env.client("alice")
        for i = 1, 20 do
          local c = env.client("c" .. i)
          if i % 2 == 0 then c:send("/quit") else c:close() end
          a:expect("^%*%*%* c" .. i .. " left", true)
        end
      end)
      assert.equal(before, helper.fd_count())
    end)
  end)

  describe("hooks", function()
    it("adds commands from opts.commands and server:command, shown by /help", function()
      run(function()
        local env <close> = setup{
          commands = {roll = function(room, client, args)
            room:broadcast(client.nick .. " rolls " .. args)
          end},
          help = {roll = "/roll DICE  roll dice for the room"},
        }
        env.server:command("Shout", function(room, client, args)
          room:broadcast(client.nick .. " shouts " .. args:upper())
        end)
        env.server:command("msg", nil)                       -- a built-in removed
        local a, b = env.client("alice"), env.client("bob")
        a:send("/roll 2d6", "/shout hey", "/msg bob x", "/help")
        assert.equal("alice rolls 2d6", b:expect("alice rolls", true))
        assert.equal("alice shouts HEY", b:line())
        assert.equal("alice rolls 2d6", a:expect("alice rolls", true))  -- everyone
        assert.equal("*** error: unknown command /msg (type /help)", a:expect("error", true))
        a:expect("*** commands:")
        local lines = {}
        for _ = 1, 7 do lines[#lines + 1] = a:line() end
        assert.truthy(lines[5]:find("/roll DICE  roll dice for the room", 1, true))
        assert.equal("***   /shout", lines[6])
        assert.has_error(function() env.server:command("a b", print) end)
        assert.has_error(function() env.server:command("x", 42) end)
      end)
    end)

    it("send, notice, error, broadcast raise for a nil, a table; find for a non-string", function()
      -- client:send(nil) sent the line "nil"; server:find(nil) raised
      -- from string.lower inside chat.lua
      run(function()
        local env <close> = setup{commands = {
          bad = function(_, client) local ok = client:send(nil) return ok end,
          num = function(room, client) client:notice(42) room:broadcast(1.5) end,
        }}
        local a = env.client("alice")
        a:send("/bad", "/num")
        assert.equal("*** error: /bad failed", a:expect("error", true))
        assert.equal("*** 42", a:line())
        assert.equal("1.5", a:line())
        for _, call in ipairs{
          function() return env.server:broadcast({}) end,
          function() return env.server.lobby:broadcast(nil) end,
          function() return env.server:find(nil) end,
          function() return env.server.lobby:say(env.server:find("alice"), nil) end,
        } do
          local ok, err = pcall(call)
          assert.is_false(ok)
          assert.matches("bad argument #%d to '%a+' %(string expected, got %a+%)", err)
        end
        -- room:say with no client raised indexing nil inside chat.lua
        local ok, err = pcall(env.server.lobby.say, env.server.lobby, nil, "x")
        assert.is_false(ok)
        assert.matches("bad argument #1 to 'say' (a client", err, 1, true)
      end)
    end)

    it("reports on_event join, message, action, nick and leave; false drops a message", function()
      run(function()
        local log = {}
        local env <close> = setup{on_event = function(kind, room, client, arg)
          log[#log + 1] = table.concat({kind, room.name, client.nick, tostring(arg)}, " ")
          if kind == "message" and arg:find("spam") then return false end
        end}
        local a, b = env.client("alice"), env.client("bob")
        a:send("buy spam", "hello", "/me nods", "/nick al", "/quit")
        assert.equal("<alice> hello", b:expect("<alice>", true))
        b:expect("*** al left (quit)")
        assert.same({
          "join lobby alice nil", "join lobby bob nil",
          "message lobby alice buy spam", "message lobby alice hello",
          "action lobby alice nods", "nick lobby al alice", "leave lobby al quit",
        }, log)
      end)
    end)

    it("gives a script the room: broadcast, users, find, notice, send", function()
      run(function()
        local env <close> = setup()
        local server = env.server
        local a, b = env.client("alice"), env.client("bob")
        local pending = env.client()
        pending:expect("*** choose a nickname:")
        assert.equal(2, server:broadcast("maintenance at \0noon"))
        assert.equal("maintenance at noon", a:expect("maintenance", true))
        assert.equal("maintenance at noon", b:expect("maintenance", true))
        local nicks = {}
        for _, c in ipairs(server:users()) do nicks[#nicks + 1] = c.nick end
        assert.same({"alice", "bob"}, nicks)
        assert.equal(2, #server.lobby:users())
        assert.same({"alice", "bob"}, server.lobby:nicks())
        local bob = server:find("BOB")
        assert.equal("bob", bob.nick)
        assert.equal(server.lobby, bob.room)
        assert.equal("127.0.0.1", bob.host)
        bob:notice("just you")
        assert.equal("*** just you", b:line())
        assert.is_true(bob:send("raw line"))
        assert.equal("raw line", b:line())
        pending:send("carol")
        assert.equal("*** you are carol", pending:line())
      end)
    end)

    it("lets a command close another client (a /kick)", function()
      run(function()
        local env <close> = setup{commands = {kick = function(_, client, args)
          local target = client.server:find(args)
          if not target then return client:error("no such user: " .. args) end
          target:notice("kicked by " .. client.nick)
          target:close("kicked by " .. client.nick)
        end}}
        local a, b, c = env.client("alice"), env.client("bob"), env.client("carol")
        a:send("/kick bob")
        assert.equal("*** kicked by alice", b:expect("kicked", true))
        assert.is_true(b:at_eof())
        assert.equal("*** bob left (kicked by alice)", c:expect("*** bob left", true))
        assert.equal("*** bob left (kicked by alice)", a:expect("*** bob left", true))
      end)
    end)

    it("makes rooms possible: a /join command built on server:room and client:move", function()
      run(function()
        local env <close> = setup{commands = {join = function(_, client, args)
          if not args:match("^%w+$") then return client:error("usage: /join ROOM") end
          client:move(client.server:room(args))
        end}}
        local server = env.server
        local a, b, c = env.client("alice"), env.client("bob"), env.client("carol")
        a:send("/join games")
        assert.equal("*** 1 user in games: alice", a:expect("games", true))
        assert.equal("*** alice left (moved to games)", b:expect("alice left", true))
        b:send("/join games")
        assert.equal("*** bob joined", a:expect("bob joined", true))
        a:send("gg")
        assert.equal("<alice> gg", b:expect("<alice>", true))
        c:send("/who")
        assert.equal("*** 1 user in lobby: carol", c:expect("^%*%*%* 1 user", true))
        c:send("lobby only", "/who")
        c:expect("*** 1 user in lobby: carol")     -- "lobby only" went out before
        b:send("/join lobby")
        assert.equal("*** 2 users in lobby: bob, carol", b:expect("in lobby", true))
        a:send("/join lobby")
        a:expect("*** 3 users in lobby: alice, bob, carol")
        assert.is_nil(server.rooms.games)                -- empty, forgotten
        assert.equal("*** error: usage: /join ROOM", (function()
          a:send("/join")
          return a:line()
        end)())
        -- carol's "lobby only" went to the lobby while alice and bob were away
        c:send("back")
        assert.equal("<carol> back", a:expect("<carol>", true))
        assert.equal("<carol> back", b:expect("<carol>", true))
      end)
    end)

    it("reports a failing command or hook and keeps the client", function()
      local reports = helper.reports(run, function()
        local env <close> = setup{
          commands = {boom = function() error("kaboom") end},
          on_event = function(kind) if kind == "message" then error("hook broke") end end,
        }
        local a, b = env.client("alice"), env.client("bob")
        a:send("/boom", "still here")
        assert.equal("*** error: /boom failed", a:expect("error", true))
        assert.equal("<alice> still here", b:expect("<alice>", true))
      end)
      assert.equal(2, #reports)
      assert.matches("command /boom failed: .*kaboom", reports[1])
      assert.matches("on_event%(message%) failed: .*hook broke", reports[2])
    end)
  end)

  describe("scale", function()
    it("serves 500 concurrent clients in one process", function()
      -- run in a child with a raised descriptor limit (1000 descriptors
      -- for 500 connections, both ends in one process)
      local code = [==[
        local loop = require "lunasock.loop"
        local core = require "lunasock.core"
        local stream = require "lunasock.stream"
        local chat = require "lunasock.chat"
        local N = 500
        local t0 = loop.now()
        local ok, err = loop.run(function()
          local server = assert(chat.serve{port = 0})
          local clients = {}
          local function expect(c, want)
            while true do
              local line, e = c:readline()
              if not line then error(want .. ": " .. tostring(e)) end
              if line == want then return true end
            end
          end
          local tasks = {}
          for i = 1, N do
            tasks[i] = loop.spawn(function()
              local sock = assert(core.socket("inet", "stream"))
              sock:settimeout(20)
              assert(sock:connect(server.host, server.port))
              local s = stream.new(sock)
              clients[i] = s
              assert(s:write("u" .. i .. "\n"))
              return expect(s, "*** you are u" .. i)
            end)
          end
          for i = 1, N do assert(tasks[i]:join()) end
          assert(#server:users() == N, "users")
          assert(clients[1]:write("hello all 500\n"))
          for i = 2, N do
            tasks[i] = loop.spawn(expect, clients[i], "<u1> hello all 500")
          end
          for i = 2, N do assert(tasks[i]:join()) end
          for i = 1, N do clients[i]:close() end
          server:close()
          return true
        end)
        assert(ok, err)
        print(("ok %d clients %.2f s"):format(N, loop.now() - t0))
      ]==]
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write(code)
      f:close()
      local p = assert(io.popen(("ulimit -n 4096 2>/dev/null; ulimit -n; %s timeout 60 %s %s 2>&1")
        :format(helper.LUA_ENV, helper.LUA, path)))
      local limit = tonumber(p:read("l"))
      local out = p:read("a")
      local okp = p:close()
      os.remove(path)
      assert.is_true(limit >= 1100, "descriptor limit " .. tostring(limit))
      assert.is_true(okp, out)
      assert.matches("^ok 500 clients", out)
    end)
  end)

  describe("bursts (issue 10)", function()
    -- n clients send m messages each at once; readers start only once
    -- every sender has written. Returns what each reader got (messages
    -- from the others), who left and why, and the mute client's socket
    -- (a client that never reads, with a small receive buffer) if asked.
    local gsub, sub = string.gsub, string.sub
    local function burst(n, m, sopts, with_mute, pad)
      local result
      run(function()
        local me, joined, left = loop.current(), 0, {}
        sopts.port = 0
        sopts.on_event = function(kind, _, c, why)
          if kind == "join" then
            joined = joined + 1
            if joined == n + (with_mute and 1 or 0) then loop.wake(me) end
          elseif kind == "leave" then
            left[c.nick] = why
          end
        end
        local server <close> = assert(chat.serve(sopts))
        local socks, mute = {}, nil
        local _ <close> = setmetatable({}, {__close = function()
          for i = 1, n do if socks[i] then socks[i]:close() end end
          if mute then mute:close() end
        end})
        local function join(nick, rcvbuf)
          local c = assert(core.socket("inet", "stream"))
          if rcvbuf then assert(c:setopt("rcvbuf", rcvbuf)) end
          c:settimeout(helper.TIMEOUT * 4)
          assert(c:connect("127.0.0.1", server.port))
          assert(c:send(nick .. "\n"))
          return c
        end
        if with_mute then mute = join("mute", 4096) end
        for i = 1, n do socks[i] = join("c" .. i) end
        assert.is_true(loop.suspend(helper.TIMEOUT * 4), "not everyone joined")
        pad = pad or ""
        for i = 1, n do   -- the burst: every client's m lines in one write
          local lines = {}
          for j = 1, m do lines[j] = ("c%d says %d%s\n"):format(i, j, pad) end
          assert(socks[i]:send(table.concat(lines)))
        end
        local readers = {}   -- only now does anyone read
        for i = 1, n do
          readers[i] = loop.spawn(function()
            -- messages are the lines that start "<c"; the last bytes of
            -- one recv go in front of the next, for one split across them
            local sock, got, prev = socks[i], 0, ""
            local want = m * (n - 1)
            while got < want do
              local data = sock:recv(65536)
              if not data or data == "" then break end
              local k = select(2, gsub(prev .. data, "\n<c", ""))
              got = got + k - (prev == "\n<c" and 1 or 0)
              prev = sub(prev .. data, -3)
            end
            return got
          end)
        end
        local got = {}
        for i = 1, n do got[i] = readers[i]:join() end
        local mute_end
        if mute then   -- read what the kernel held for it, to its end
          local data, code, _ = "x", nil, nil
          while data and data ~= "" do data, _, code = mute:recv(65536) end
          mute_end = data == "" and "EOF" or code
        end
        result = {got = got, left = left, mute_end = mute_end,
                  mute_found = server:find("mute") ~= nil}
      end)
      collectgarbage()   -- what the loop's tasks held goes now, not in a later spec
      return result
    end

    -- Under valgrind (a long LUNASOCK_TEST_TIMEOUT) fewer clients.
    local N = helper.TIMEOUT > 10 and 40 or 200

    it(("delivers all of a %d-client x 50-message burst to readers that start late"):format(N),
       function()
      -- the defaults, but for stall_timeout: these readers share the
      -- spec's process (and CPU) with the server; on a loaded machine a
      -- turn of the loop can take long, and they must not count as stalled
      local r = burst(N, 50, {stall_timeout = helper.TIMEOUT * 4})
      for i = 1, N do assert.equal(50 * (N - 1), r.got[i], "client c" .. i) end
      assert.same({}, r.left)
    end)

    it("drops a client that never reads, and the others still get everything", function()
      local r = burst(20, 50, {stall_timeout = 1, sndbuf = 4096, high_water = 8192}, true,
                      (" "):rep(100))
      for i = 1, 20 do assert.equal(50 * 19, r.got[i], "client c" .. i) end
      assert.same({mute = "output stalled for 1 s"}, r.left)
      assert.is_false(r.mute_found)
      assert.truthy(r.mute_end == "EOF" or r.mute_end == "ECONNRESET", tostring(r.mute_end))
    end)

    it("consumes telnet commands (IAC) and never relays them", function()
      assert.equal("hello", chat.strip_telnet("\255\253\1\255\251\31hello\255\244"))
      assert.equal("ab", chat.strip_telnet("a\255\250\24\0xterm\255\240b\255\255"))
      run(function()
        local env <close> = setup{}
        local a, b = env.client("a"), env.client("b")
        a:expect("*** b joined")
        b.sock:send("\255\244\255\253\6hi there\255\241\n")
        assert.equal("<b> hi there", a:line())
      end)
    end)
  end)
end)
