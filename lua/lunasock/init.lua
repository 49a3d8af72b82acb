-- lunasock: the friendly front. tcp/udp/unix helpers that return core
-- sockets, ready to use inside the loop (lunasock.loop) or outside it.
local core = require "lunasock.core"
local loop = require "lunasock.loop"
local check = require "lunasock.check"
local serve = require "lunasock.serve"

local ipairs, pairs, error, type, tonumber, tostring = ipairs, pairs, error, type,
                                                     tonumber, tostring
local monotime = core.monotime
local find = string.find

local M = {core = core, loop = loop, _VERSION = core._VERSION}
M.tcp, M.udp, M.unix = {}, {}, {}

-- RFC 8305: start the next connection attempt this long after the
-- previous one unless that one has failed already.
M.CONNECTION_ATTEMPT_DELAY = 0.25

local function fail(msg, code)
  return nil, msg, code
end

-- The options of every door, checked there: a bad value raises at the
-- caller (ports are checked by core.getaddrinfo and bind).
local function check_opts(opts, fname, argn)
  opts = check.opts(opts, fname, argn or 3, 3)
  check.opt_seconds(opts, "timeout", fname, 3)
  check.opt_integer(opts, "backlog", fname, 0, 0x7fffffff, 3)
  for _, k in ipairs{"nodelay", "reuseaddr", "reuseport"} do
    check.opt_boolean(opts, k, fname, 3)
  end
  local t = opts.tls
  if t ~= nil and type(t) ~= "boolean" and type(t) ~= "table" and type(t) ~= "userdata" then
    error(("bad option 'tls' to '%s' (%s expected, got %s)"):format(fname,
          fname == "tcp.connect" and "true, a client tls.context or a table of its options"
          or "a server tls.context or a table of its options", type(t)), 3)
  end
  if opts.servername ~= nil and type(opts.servername) ~= "string" then
    error(("bad option 'servername' to '%s' (string expected, got %s)"):format(
          fname, type(opts.servername)), 3)
  end
  return opts
end

-- tcp.connect's opts.tls: true, a table of tls.context options (a
-- client's) or a client tls.context; raises at the door's caller, before
-- connecting (a server context would fail every handshake, and say so
-- only as a misused tls.wrap).
local function check_client_tls(t, fname)
  local ty = type(t)
  if ty == "table" then
    if t.mode ~= nil and t.mode ~= "client" then
      error(("bad option 'tls' to '%s' (mode must be \"client\", got %s)"):format(
            fname, tostring(t.mode)), 3)
    end
  elseif ty == "userdata" then
    local tls = require "lunasock.tls"   -- loaded already: t is one of its contexts
    local kind = tls.type(t)
    if kind ~= "tls context" or t:mode() ~= "client" then
      error(("bad option 'tls' to '%s' (a client tls.context expected, got %s)"):format(
            fname, kind == "tls context" and "a server one" or kind or ty), 3)
    end
  end
end

-- A port at the door: an integer from 0 to 65535 (or a numeric string or
-- service name, which getaddrinfo takes); raises at the door's caller.
local function check_port(port, fname, host)
  if host ~= nil and type(host) ~= "string" then   -- nil: the family's any or loopback
    error(("bad argument #1 to '%s' (host expected, got %s)"):format(fname, type(host)), 3)
  end
  if type(port) == "number" then
    check.integer(port, 2, fname, 0, 65535, 3)
  elseif type(port) ~= "string" then
    error(("bad argument #2 to '%s' (port expected, got %s)"):format(fname, type(port)), 3)
  end
end

-- Raises for an option in opts that the set known lacks (a misspelt
-- option must not be silently ignored), at the door's caller.
local function check_known(opts, fname, known)
  check.known(opts, fname, known, 3)
end

-- What tcp.listen takes, and what of tcp.serve's options go to it.
local LISTEN_OPTS = {backlog = true, reuseaddr = true, reuseport = true, nodelay = true,
                     timeout = true}
local SERVE_LISTEN_OPTS = {backlog = true, reuseaddr = true, reuseport = true, nodelay = true}
local UNIX_LISTEN_OPTS = {backlog = true, type = true, timeout = true}
local SERVE_OPTS = check.set(SERVE_LISTEN_OPTS, serve.OPTIONS)
local UNIX_LISTEN_KEYS = {backlog = true, type = true}   -- unix.serve's, for unix.listen
local UNIX_SERVE_OPTS = check.set(UNIX_LISTEN_KEYS, serve.OPTIONS)
local CONNECT_OPTS = {timeout = true, nodelay = true, tls = true, servername = true,
                      verify_host = true, alpn = true, session = true}
local TCP_BIND_OPTS = {reuseaddr = true, reuseport = true}
local UDP_BIND_OPTS = {timeout = true, reuseaddr = true, reuseport = true}
local UDP_CONNECT_OPTS = {timeout = true}
local UNIX_CONNECT_OPTS = {timeout = true, type = true}

-- Addresses for host, port: numeric hosts need no lookup; names go through
-- core.getaddrinfo (off the loop thread inside a task). Families are
-- interleaved, the first family first, as RFC 8305 section 4 asks.
local function resolve(host, port, socktype, flags)
  local list, err, code = core.getaddrinfo(host, port, {socktype = socktype, flags = flags})
  if not list then return nil, err, code end
  local by_family, order = {}, {}
  for _, ai in ipairs(list) do
    local f = ai.family
    if not by_family[f] then
      by_family[f] = {}
      order[#order + 1] = f
    end
    local l = by_family[f]
    l[#l + 1] = ai
  end
  local out, i = {}, 1
  while #out < #list do
    for _, f in ipairs(order) do
      local ai = by_family[f][i]
      if ai then out[#out + 1] = ai end
    end
    i = i + 1
  end
  return out
end

-- One attempt: a socket connecting to ai within timeout. Returns the
-- connected socket or nil, msg, code. on_socket(s), when given, learns the
-- socket before the wait, so that a race can close the losers.
local function attempt(ai, timeout, on_socket)
  if timeout and timeout <= 0 then return fail("connection timed out", "ETIMEDOUT") end
  local s, err, code = core.socket(ai.family, "stream")
  if not s then return nil, err, code end
  if on_socket then on_socket(s) end
  s:settimeout(timeout)
  local ok
  ok, err, code = s:connect(ai.addr, ai.port)
  if ok then return s end
  s:close()
  return nil, err, code
end

-- The race of RFC 8305, run by loop tasks: one attempt per address,
-- started CONNECTION_ATTEMPT_DELAY apart (or as soon as the previous one
-- fails); the first to connect wins and the others are closed.
local function race(addrs, deadline)
  local me = loop.current()
  local winner, last_err, last_code, raised
  local pending, attempts, socks, nexti = 0, {}, {}, 1
  local function keep(s) socks[#socks + 1] = s end
  while true do
    local now = monotime()
    if now >= deadline then break end
    if nexti <= #addrs then
      local ai = addrs[nexti]
      nexti = nexti + 1
      pending = pending + 1
      attempts[#attempts + 1] = loop.spawn(function()
        -- a raise in an attempt is the caller's: it ends the race
        local ok, s, err, code = pcall(attempt, ai, deadline - monotime(), keep)
        pending = pending - 1
        if not ok then
          raised = raised or s
        elseif s and not winner then
          winner = s
        elseif not s then
          last_err, last_code = err, code
        end
        loop.wake(me)
      end)
    end
    if winner or raised or (pending == 0 and nexti > #addrs) then break end
    local wait = deadline - now
    if nexti <= #addrs and wait > M.CONNECTION_ATTEMPT_DELAY then
      wait = M.CONNECTION_ATTEMPT_DELAY
    end
    if nexti > #addrs or pending > 0 then loop.suspend(wait) end
    if winner or raised then break end
  end
  for _, t in ipairs(attempts) do t:cancel() end
  for _, s in ipairs(socks) do
    if s ~= winner or raised then s:close() end
  end
  if raised then error(raised, 0) end
  if winner then return winner end
  if last_err then return nil, last_err, last_code end
  return nil, "connection timed out", "ETIMEDOUT"
end

-- TLS over the connected socket s (opts.tls: true for the default client
-- context, a tls.context, or a table of context options), within what is
-- left of the deadline. The server's certificate is checked against
-- opts.servername, which defaults to host: a DNS name is also sent as SNI,
-- an IP literal is checked against the certificate's IP SAN. lunasock.tls
-- is required here, not at the top: users of the core never load OpenSSL.
local default_tls
local function tls_handshake(s, host, opts, deadline)
  local tls = require "lunasock.tls"
  local ctx = opts.tls
  if ctx == true then
    if not default_tls then
      local err, code
      default_tls, err, code = tls.context{}
      if not default_tls then s:close() return nil, err, code end
    end
    ctx = default_tls
  end
  local left = deadline - monotime()
  if left <= 0 then
    s:close()
    return fail("connection timed out", "ETIMEDOUT")
  end
  local ts, err, code = tls.wrap(s, ctx, {
    servername = opts.servername or host, verify_host = opts.verify_host,
    alpn = opts.alpn, session = opts.session,
    timeout = opts.timeout and left or nil})
  if not ts then return nil, err, code end
  ts:settimeout(opts.timeout)
  return ts
end

-- lunasock.tcp.connect(host, port[, opts]) -> socket, or nil, msg, code.
-- opts.timeout bounds the whole call (lookup and every attempt) and then
-- becomes the socket's timeout. TCP_NODELAY is on unless opts.nodelay is
-- false: small writes go out at once (a request/reply protocol is not
-- held 40 ms by Nagle's algorithm and the peer's delayed ACK). With
-- opts.tls (and servername, verify_host, alpn, session for tls.wrap) the
-- result is a TLS socket, its handshake done and the peer verified.
function M.tcp.connect(host, port, opts)
  opts = check_opts(opts, "tcp.connect")
  check_port(port, "tcp.connect", host)
  check_known(opts, "tcp.connect", CONNECT_OPTS)
  check_client_tls(opts.tls, "tcp.connect")
  local timeout = opts.timeout
  local addrs, err, code = resolve(host, port, core.SOCK_STREAM)
  if not addrs then return nil, err, code end
  if #addrs == 0 then return fail("no address for " .. tostring(host), "EAI_NONAME") end
  local deadline = monotime() + (timeout or 1e9)
  local s
  if #addrs == 1 then
    s, err, code = attempt(addrs[1], timeout)
  elseif loop.current() then
    s, err, code = race(addrs, deadline)
  elseif loop.running() then
    error("tcp.connect: call it from a loop task, not from the scheduler", 2)
  else
    -- outside the loop: a private run of the loop does the race, and
    -- stops it once decided (tasks spawned earlier must not keep it going)
    local ok
    ok, s, err, code = pcall(loop.run, function()
      local r = table.pack(race(addrs, deadline))
      loop.stop()
      return table.unpack(r, 1, r.n)
    end)
    if not ok then error(s, 0) end
  end
  if not s then return nil, err, code end
  s:settimeout(timeout)
  if opts.nodelay ~= false then s:setopt("nodelay", true) end
  if opts.tls then return tls_handshake(s, host, opts, deadline) end
  return s
end

local somaxconn
local function default_backlog()
  if not somaxconn then
    local f = io.open("/proc/sys/net/core/somaxconn")
    somaxconn = f and tonumber(f:read("l")) or core.SOMAXCONN
    if f then f:close() end
  end
  return somaxconn
end

-- A socket of socktype bound to host, port: "*" and "::" are dual stack
-- (IPv6 with v6only off, IPv4 where IPv6 is missing).
local function bound(host, port, socktype, opts)
  local family, addr
  if host == "*" or host == "::" or host == nil then
    family, addr = core.AF_INET6, "::"
    if type(port) == "string" then   -- a service name ("http"): its number
      local list, err, code = core.getaddrinfo(nil, port, {socktype = socktype,
                                                           flags = core.AI_PASSIVE})
      if not list then return nil, err, code end
      port = list[1].port
    end
  else
    local addrs, err, code = resolve(host, port, socktype, core.AI_PASSIVE)
    if not addrs then return nil, err, code end
    if #addrs == 0 then return fail("no address for " .. tostring(host), "EAI_NONAME") end
    family, addr, port = addrs[1].family, addrs[1].addr, addrs[1].port
  end
  local s, err, code = core.socket(family, socktype)
  if not s and family == core.AF_INET6 and host ~= "::" then
    family, addr = core.AF_INET, "0.0.0.0"
    s, err, code = core.socket(family, socktype)
  end
  if not s then return nil, err, code end
  if family == core.AF_INET6 and (host == "*" or host == "::" or host == nil) then
    s:setopt("v6only", false)
  end
  -- TCP: on unless false (a restarted server rebinds at once); UDP: only
  -- when asked (it lets two sockets share a unicast port)
  if opts.reuseaddr == true or socktype == core.SOCK_STREAM and opts.reuseaddr ~= false then
    s:setopt("reuseaddr", true)
  end
  if opts.reuseport then
    local ok, perr, pcode = s:setopt("reuseport", true)
    if not ok then s:close() return nil, perr, pcode end
  end
  local ok
  ok, err, code = s:bind(addr, port)
  if not ok then
    s:close()
    return nil, err, code
  end
  return s
end

-- s, bound, made to listen (opts.backlog, default the system's) with
-- opts.timeout; closed when listen fails.
local function listening(s, opts)
  local ok, err, code = s:listen(opts.backlog or default_backlog())
  if not ok then
    s:close()
    return nil, err, code
  end
  if opts.timeout then s:settimeout(opts.timeout) end
  return s
end

local function tcp_listen(host, port, opts)
  local s, err, code = bound(host, port, core.SOCK_STREAM, opts)
  if not s then return nil, err, code end
  -- accepted sockets inherit TCP_NODELAY from the listener (Linux, BSDs)
  if opts.nodelay ~= false then s:setopt("nodelay", true) end
  return listening(s, opts)
end

-- tcp.serve and unix.serve: opts split in two, the keys in listen_keys
-- for listen(lopts) (a listener, or nil, msg, code), the rest for
-- serve.listener. A listener it refuses is closed, and a raise (a bad
-- option) is passed on to the caller of tcp.serve / unix.serve (level 3:
-- this function is called, not tail-called, from theirs).
local function serve_on(listen, listen_keys, handler, opts)
  local lopts, sopts = {}, {}
  for k, v in pairs(opts) do
    if listen_keys[k] then lopts[k] = v else sopts[k] = v end
  end
  local l, err, code = listen(lopts)
  if not l then return nil, err, code end
  local ok, server
  ok, server, err, code = pcall(serve.listener, l, handler, sopts)
  if not ok or not server then l:close() end
  if not ok then error(server, 3) end
  return server, err, code
end

-- lunasock.tcp.listen(host, port[, opts]) -> listening socket. opts:
-- backlog (default: the system's somaxconn), reuseaddr (default true),
-- reuseport, nodelay (default true: accepted sockets have TCP_NODELAY),
-- timeout (for accept). Any other option raises.
function M.tcp.listen(host, port, opts)
  opts = check_opts(opts, "tcp.listen")
  check_port(port, "tcp.listen", host)
  check_known(opts, "tcp.listen", LISTEN_OPTS)
  return tcp_listen(host, port, opts)
end

-- lunasock.tcp.bind(host, port[, opts]) -> a TCP socket bound there and
-- not listening: holds a port (port 0: the kernel's choice) without
-- taking connections. Host rules and opts reuseaddr (default true) and
-- reuseport as tcp.listen. Any other option raises.
function M.tcp.bind(host, port, opts)
  opts = check_opts(opts, "tcp.bind")
  check_port(port, "tcp.bind", host)
  check_known(opts, "tcp.bind", TCP_BIND_OPTS)
  return bound(host, port, core.SOCK_STREAM, opts)
end

-- lunasock.tcp.serve(host, port, handler[, opts]) -> server (host, port,
-- close()), or nil, msg, code: listens (opts backlog, reuseaddr,
-- reuseport, nodelay as tcp.listen) and runs handler(stream, peer_host,
-- peer_port) in a task of its own per connection (the rest of opts: see
-- lunasock.serve.listener, docs/lunasock.md).
function M.tcp.serve(host, port, handler, opts)
  if type(handler) ~= "function" then
    error("bad argument #3 to 'tcp.serve' (function expected, got " .. type(handler) .. ")", 2)
  end
  opts = check_opts(opts, "tcp.serve", 4)
  check_port(port, "tcp.serve", host)
  check_known(opts, "tcp.serve", SERVE_OPTS)
  local server, err, code = serve_on(function(lopts) return tcp_listen(host, port, lopts) end,
                                     SERVE_LISTEN_OPTS, handler, opts)
  return server, err, code
end

-- lunasock.udp.bind(host, port[, opts]) -> datagram socket bound there.
-- opts: timeout, reuseaddr (default false for UDP), reuseport.
function M.udp.bind(host, port, opts)
  opts = check_opts(opts, "udp.bind")
  check_port(port, "udp.bind", host)
  check_known(opts, "udp.bind", UDP_BIND_OPTS)
  local s, err, code = bound(host, port, core.SOCK_DGRAM, opts)
  if s and opts.timeout then s:settimeout(opts.timeout) end
  return s, err, code
end

-- lunasock.udp.connect(host, port[, opts]) -> datagram socket whose
-- send/recv talk to host, port
function M.udp.connect(host, port, opts)
  opts = check_opts(opts, "udp.connect")
  check_port(port, "udp.connect", host)
  check_known(opts, "udp.connect", UDP_CONNECT_OPTS)
  local addrs, err, code = resolve(host, port, core.SOCK_DGRAM)
  if not addrs then return nil, err, code end
  if #addrs == 0 then return fail("no address for " .. tostring(host), "EAI_NONAME") end
  local s
  for _, ai in ipairs(addrs) do
    s, err, code = core.socket(ai.family, "dgram")
    if s then
      local ok
      ok, err, code = s:connect(ai.addr, ai.port)
      if ok then
        if opts.timeout then s:settimeout(opts.timeout) end
        return s
      end
      s:close()
    end
  end
  return nil, err, code
end

-- Removes path if it is a unix socket nobody listens on (a leftover of a
-- process that died); leaves anything else alone. The type is checked
-- first (lstat: a symlink is not a socket): connect(2) to a regular file
-- or a FIFO also fails with ECONNREFUSED.
local function remove_stale(path, socktype)
  if path:sub(1, 1) == "\0" then return end
  local st = core.stat(path, false)
  if not st or st.type ~= "socket" then return end
  local probe = core.socket("unix", socktype)
  if not probe then return end
  probe:settimeout(1)
  local ok, _, code = probe:connect(path)
  probe:close()
  if not ok and code == "ECONNREFUSED" then os.remove(path) end
end

-- lunasock.unix.listen(path[, opts]) -> listening unix socket. A stale
-- socket file at path is replaced; a live one gives EADDRINUSE. opts:
-- backlog, type ("stream" or "seqpacket"), timeout.
-- Raises unless path is a string with no NUL after its first byte (a
-- leading one is Linux's abstract namespace), at the caller of fname.
local function check_path(path, fname)
  if type(path) ~= "string" then
    error(("bad argument #1 to '%s' (path expected)"):format(fname), 3)
  end
  if find(path, "\0", 2, true) then
    error(("bad argument #1 to '%s' (path contains a zero byte)"):format(fname), 3)
  end
end

-- opts.type of unix.listen and unix.connect: "stream" (nil), "seqpacket"
-- or their SOCK_* numbers; connect also takes "dgram" (a datagram socket
-- with path as its peer, as /dev/log is used). Else raises at the caller.
local UNIX_TYPES = {stream = true, seqpacket = true, [core.SOCK_STREAM] = true,
                    [core.SOCK_SEQPACKET] = true}
local function unix_type(t, fname)
  if t == nil then return "stream" end
  if UNIX_TYPES[t] or (fname == "unix.connect" and (t == "dgram" or t == core.SOCK_DGRAM)) then
    return t
  end
  error(("bad option 'type' to '%s' ('stream' or 'seqpacket'%s expected)")
        :format(fname, fname == "unix.connect" and " or 'dgram'" or ""), 3)
end

function M.unix.listen(path, opts)
  check_path(path, "unix.listen")
  opts = check_opts(opts, "unix.listen", 2)
  check_known(opts, "unix.listen", UNIX_LISTEN_OPTS)
  local socktype = unix_type(opts.type, "unix.listen")
  remove_stale(path, socktype)
  local s, err, code = core.socket("unix", socktype)
  if not s then return nil, err, code end
  local ok
  ok, err, code = s:bind(path)
  if not ok then
    s:close()
    return nil, err, code
  end
  return listening(s, opts)
end

-- lunasock.unix.serve(path, handler[, opts]) -> server (path, close()),
-- or nil, msg, code: tcp.serve over a unix stream (or seqpacket) socket
-- at path (opts: backlog, type and lunasock.serve.listener's). close()
-- removes the file.
function M.unix.serve(path, handler, opts)
  check_path(path, "unix.serve")
  if type(handler) ~= "function" then
    error("bad argument #2 to 'unix.serve' (function expected, got " .. type(handler) .. ")", 2)
  end
  opts = check_opts(opts, "unix.serve")
  check_known(opts, "unix.serve", UNIX_SERVE_OPTS)
  unix_type(opts.type, "unix.serve")   -- raised here, not in its listen
  local server, err, code = serve_on(function(lopts) return M.unix.listen(path, lopts) end,
                                     UNIX_LISTEN_KEYS, handler, opts)
  return server, err, code
end

-- lunasock.unix.connect(path[, opts]) -> connected unix socket
function M.unix.connect(path, opts)
  check_path(path, "unix.connect")
  opts = check_opts(opts, "unix.connect", 2)
  check_known(opts, "unix.connect", UNIX_CONNECT_OPTS)
  local s, err, code = core.socket("unix", unix_type(opts.type, "unix.connect"))
  if not s then return nil, err, code end
  s:settimeout(opts.timeout)
  local ok
  ok, err, code = s:connect(path)
  if not ok then
    s:close()
    return nil, err, code
  end
  return s
end

return M
