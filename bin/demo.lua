#!/usr/bin/env lua5.4
-- make demo: a tour of lunasock on loopback, in one process. It starts
-- echo, chat and HTTP servers on ephemeral ports, drives scripted clients
-- against them as loop tasks, prints a readable transcript and exits 0
-- when every check passed (1 otherwise). A watchdog ends it after DEADLINE seconds.
--
-- Usage: lua5.4 bin/demo.lua        (make demo sets the module paths)
local here = (arg and arg[0] or ""):match("^(.*)/bin/[^/]*$") or "."
package.path = here .. "/lua/?.lua;" .. here .. "/lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("LUNASOCK_BUILD") or here .. "/build") .. "/?.so;" .. package.cpath

local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local echo = require "lunasock.echo"
local chat = require "lunasock.chat"
local http = require "lunasock.http"
local http_client = require "lunasock.http.client"

local core = lunasock.core
local DEADLINE = 15       -- seconds for the whole tour
local IO_TIMEOUT = 5      -- seconds for any one client call

local passed, failed = 0, 0

local function say(fmt, ...)
  io.write(fmt:format(...), "\n")
  io.flush()
end

local function check(ok, what, detail)
  if ok then
    passed = passed + 1
    say("  ok    %s", what)
  else
    failed = failed + 1
    say("  FAIL  %s%s", what, detail and (": " .. tostring(detail)) or "")
  end
  return ok
end

local function section(title)
  say("\n== %s", title)
end

-- A stream on a fresh TCP connection, or nil, msg.
local function connect(port)
  local s, err = lunasock.tcp.connect("127.0.0.1", port, {timeout = IO_TIMEOUT})
  if not s then return nil, err end
  s:settimeout(IO_TIMEOUT)
  return stream.new(s)
end

---------------------------------------------------------------- the core

local function core_tour()
  section("lunasock.core: the BSD socket API, 1:1")
  local a, b = assert(core.socketpair("unix", "stream"))
  a:settimeout(IO_TIMEOUT) b:settimeout(IO_TIMEOUT)
  a:send("peek-a-boo")
  local peeked = b:recv(4, core.MSG_PEEK)
  local all = b:recv(10)
  check(peeked == "peek" and all == "peek-a-boo",
        ("MSG_PEEK saw %q and left it queued: recv got %q"):format(peeked, all))
  local none, _, code = b:recv(10, core.MSG_DONTWAIT)
  check(none == nil and code == "EAGAIN", "MSG_DONTWAIT on an empty socket: " .. tostring(code))
  local x, y = assert(core.socketpair("unix", "stream"))
  a:sendmsg("fd", {fds = {x}})
  x:close()                                   -- b now holds the only copy
  local data, info = b:recvmsg(10)
  local passed_fd = info and info.fds and info.fds[1]
  local got = passed_fd and core.fromfd(passed_fd)
  if got then got:send("through a passed descriptor") end
  y:settimeout(IO_TIMEOUT)
  local line = y:recv(100)
  check(data == "fd" and line == "through a passed descriptor",
        ("SCM_RIGHTS passed a socket; fromfd(%s) sent %q"):format(passed_fd, line))
  if got then got:close() end
  y:close()
  a:close()
  b:send("x")
  local sent, msg, ecode = b:send("after the peer closed")
  check(sent == nil and ecode == "EPIPE",
        ("send to a closed peer: %s (%s), no SIGPIPE"):format(msg, ecode))
  b:close()
end

---------------------------------------------------------------- echo

local ECHO_CLIENTS, ECHO_ROUNDS = 200, 20

local function echo_tour()
  section("lunasock.echo: TCP and UDP echo servers, one task per connection")
  local tcp = assert(echo.serve{port = 0})
  local udp = assert(echo.serve{proto = "udp", port = 0})
  say("  echo tcp listening on %s:%d, udp on %s:%d", tcp.host, tcp.port, udp.host, udp.port)

  local t0, ok_rounds, errors = loop.now(), 0, {}
  local tasks = {}
  for i = 1, ECHO_CLIENTS do
    tasks[i] = loop.spawn(function()
      local st, err = connect(tcp.port)
      if not st then errors[#errors + 1] = err return end
      for r = 1, ECHO_ROUNDS do
        local msg = ("client %d round %d"):format(i, r)
        st:write(msg, "\n")
        local back, rerr = st:readline()
        if back ~= msg then errors[#errors + 1] = rerr or back break end
        ok_rounds = ok_rounds + 1
      end
      st:close()
    end)
  end
  for _, t in ipairs(tasks) do t:join() end
  local dt = loop.now() - t0
  check(ok_rounds == ECHO_CLIENTS * ECHO_ROUNDS and #errors == 0,
        ("%d concurrent clients x %d round trips: %d echoed in %.2f s (%.0f round trips/s)")
          :format(ECHO_CLIENTS, ECHO_ROUNDS, ok_rounds, dt, ok_rounds / dt),
        errors[1])

  local u = assert(lunasock.udp.connect("127.0.0.1", udp.port))
  u:settimeout(IO_TIMEOUT)
  local got = {}
  for i = 1, 3 do
    u:send("datagram " .. i)
    got[#got + 1] = u:recv(100)
  end
  check(table.concat(got, ",") == "datagram 1,datagram 2,datagram 3",
        "UDP echo: " .. table.concat(got, ", "))
  u:close()
  tcp:close()
  udp:close()
end

---------------------------------------------------------------- chat

-- A chat user: joins as nick and reads on demand; expect(pattern) returns
-- the next line received that matches, skipping the others.
local function chat_user(port, nick)
  local st = assert(connect(port))
  local user = {nick = nick, st = st}
  function user:expect(pattern)
    while true do
      local line, err = self.st:readline()
      if not line then return nil, err end
      if line:find(pattern) then return line end
    end
  end
  function user:say(text) return self.st:write(text, "\n") end
  user:say(nick)
  assert(user:expect("^%*%*%* you are " .. nick))
  return user
end

local function chat_tour()
  section("lunasock.chat: three users, a private message, a slow client dropped")
  local server = assert(chat.serve{port = 0, max_queue = 8192, sndbuf = 4096, eol = "\n",
                                   stall_timeout = 1})
  say("  chat listening on %s:%d", server.host, server.port)
  local alice = chat_user(server.port, "alice")
  local bob = chat_user(server.port, "bob")
  local carol = chat_user(server.port, "carol")
  alice:say("hello, room")
  local b, c = bob:expect("<alice> hello, room"), carol:expect("<alice> hello, room")
  say("  bob   sees: %s", b) say("  carol sees: %s", c)
  check(b and c, "a message from alice reached bob and carol")
  bob:say("/msg carol psst, carol")
  local p = carol:expect("^%*bob%*")
  say("  carol sees: %s", p)
  check(p == "*bob* psst, carol", "/msg reached only its target")
  carol:say("/me waves")
  check(alice:expect("^%* carol waves") ~= nil, "/me: alice sees '* carol waves'")
  bob:say("/who")
  local who = bob:expect("users")
  say("  bob asks /who: %s", who)
  check(who and who:find("alice") and who:find("carol"), "/who lists the room")

  -- dave joins, then stops reading: the room holds alice back while his
  -- queue is over its mark, and once he has taken nothing for
  -- stall_timeout (1 s here) the server drops him; bob and carol stay
  local dave = chat_user(server.port, "dave")
  dave.st:socket():setopt("rcvbuf", 4096)
  local watchers = {}
  for i, u in ipairs{bob, carol} do
    watchers[i] = loop.spawn(function() return u:expect("dave left") end)
  end
  for i = 1, 3000 do
    alice:say(("flood line %d: %s"):format(i, ("x"):rep(60)))
  end
  local dropped = watchers[1]:join()
  say("  bob   sees: %s", dropped)
  check(dropped and watchers[2]:join(),
        "dave stopped reading and was dropped; bob and carol stayed")
  bob:say("still here")
  check(carol:expect("<bob> still here") ~= nil, "the room kept going after the drop")
  for _, u in ipairs{alice, bob, carol, dave} do u.st:close() end
  server:close()
end

---------------------------------------------------------------- http

local HTTP_CLIENTS, HTTP_REQUESTS = 50, 10

local function http_tour()
  section("lunasock.http: a routed server and the client, keep-alive and chunked")
  local app = http.router()
  app:get("/", function() return 200, nil, "hello world" end)
  app:post("/echo", function(req) return 200, nil, req:read_body() end)
  app:get("/hello/:name", function(req) return 200, nil, "hello " .. req.params.name end)
  app:get("/count/:n", function(req)          -- streamed: chunked, length unknown
    local w = req:respond(200)
    for i = 1, tonumber(req.params.n) do w:write(i .. "\n") end
    w:finish()
  end)
  local server = assert(http.server{host = "127.0.0.1", port = 0, handler = app})
  local base = ("http://%s:%d"):format(server.host, server.port)
  say("  http listening on %s:%d", server.host, server.port)

  local pool = http_client.pool()
  local function fetch(opts)
    opts.pool, opts.timeout = pool, IO_TIMEOUT
    local res, err, code = http_client.request(opts)
    if not res then return {status = code, body = err} end
    return res
  end
  local r = fetch{url = base .. "/"}
  say("  GET /             -> %s %q", r.status, r.body)
  check(r.status == 200 and r.body == "hello world", "GET / answers hello world")
  r = fetch{method = "POST", url = base .. "/echo", body = "ping from the client"}
  say("  POST /echo        -> %s %q", r.status, r.body)
  check(r.status == 200 and r.body == "ping from the client", "POST /echo returns the body")
  r = fetch{url = base .. "/hello/lunasock"}
  say("  GET /hello/:name  -> %s %q", r.status, r.body)
  check(r.body == "hello lunasock", "the router fills :name")
  r = fetch{url = base .. "/count/5"}
  say("  GET /count/5      -> %s, %s, %s", r.status,
      r.headers and r.headers["transfer-encoding"], (r.body or ""):gsub("\n", " "))
  check(r.body == "1\n2\n3\n4\n5\n", "a streamed response arrives chunked and whole")
  r = fetch{method = "DELETE", url = base .. "/"}
  say("  DELETE /          -> %s (Allow: %s)", r.status, r.headers and r.headers["allow"])
  check(r.status == 405, "a method the route lacks gets 405 with Allow")
  check(pool:idle_count() == 1, "five requests went over one kept-alive connection")

  -- one task per client, each with a keep-alive connection of its own
  local t0, answered, errors, tasks = loop.now(), 0, {}, {}
  for i = 1, HTTP_CLIENTS do
    tasks[i] = loop.spawn(function()
      local own <close> = http_client.pool()
      for j = 1, HTTP_REQUESTS do
        local res, err = http_client.request{url = ("%s/hello/c%d-%d"):format(base, i, j),
                                             pool = own, timeout = IO_TIMEOUT}
        if res and res.body == ("hello c%d-%d"):format(i, j) then
          answered = answered + 1
        else
          errors[#errors + 1] = err or (res and res.status)
        end
      end
    end)
  end
  for _, t in ipairs(tasks) do t:join() end
  local dt = loop.now() - t0
  check(answered == HTTP_CLIENTS * HTTP_REQUESTS,
        ("%d concurrent clients x %d requests: %d answered in %.2f s (%.0f requests/s)")
          :format(HTTP_CLIENTS, HTTP_REQUESTS, answered, dt, answered / dt), errors[1])
  pool:close()
  server:close()
end

---------------------------------------------------------------- main

local sections = {core_tour, echo_tour, chat_tour, http_tour}

local ok, err = loop.run(function()
  local watchdog = loop.after(DEADLINE, function()
    failed = failed + 1
    say("\nFAIL  the demo did not finish within %d s", DEADLINE)
    loop.stop()
  end)
  for _, run in ipairs(sections) do run() end
  watchdog:cancel()
  return true
end)
if not ok then
  failed = failed + 1
  say("\nFAIL  %s", tostring(err))
end
say("\n%d checks passed, %d failed", passed, failed)
os.exit(failed == 0 and 0 or 1)
