-- lunasock.http.server: an HTTP/1.1 server on lunasock.loop, one task per
-- connection.
--
--   local srv = server.new{host = "127.0.0.1", port = 8080,
--                          handler = function(req) return 200, nil, "hi\n" end}
--   loop.run()
--
-- A handler gets the request (see lunasock.http.parse for its fields, plus
-- the methods below) and returns status, headers, body, where body is a
-- string, a Lua file (read to its end, or Content-Length bytes, and
-- closed), a function returning pieces until nil, or nil. Or it streams:
-- req:respond(status, headers) -> writer (w:write(s), w:finish()).
--
-- Timeouts without a timer per request: a reaper task wakes every TICK
-- seconds, refreshes a coarse clock and shuts down connections past their
-- deadline (idle keep-alive, or the whole head); the connection's task
-- then wakes from its read and ends. Bodies use the socket timeout
-- (body_timeout: the longest wait for one read or write).
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local parse = require "lunasock.http.parse"
local body = require "lunasock.http.body"
local serve = require "lunasock.serve"

local core = lunasock.core
local find, sub, lower, format = string.find, string.sub, string.lower, string.format
local concat, type, pairs, tostring, setmetatable, error, xpcall, pcall, rawget =
  table.concat, type, pairs, tostring, setmetatable, error, xpcall, pcall, rawget
local math_type = math.type
local os_time, os_date, io_type, traceback = os.time, os.date, io.type, debug.traceback
local monotime = core.monotime
local parse_request, parse_fields, REASON = parse.request, parse.fields, parse.REASON
local http_head, MSG_DONTWAIT = core.http_head, core.MSG_DONTWAIT

local M = {}

M.DEFAULTS = {
  max_request_line = 8192,      -- bytes: 414 past it
  max_head = 32768,             -- bytes of request line and fields: 431
  max_headers = 100,            -- fields: 431
  max_body = 10 * 1024 * 1024,  -- bytes (false: none): 413
  header_timeout = 10,          -- seconds for the whole head
  idle_timeout = 60,            -- seconds between keep-alive requests
  body_timeout = 30,            -- seconds one body read or response write may wait
  drain = 65536,                -- unread request body drained to keep the connection
  handshake_timeout = serve.HANDSHAKE_TIMEOUT,  -- seconds for a TLS handshake
}
M.SERVER = "lunasock"

-- lunasock.tls, loaded by the first TLS server only (plain HTTP never
-- loads OpenSSL)
local tls_mod
local function tls_module()
  if not tls_mod then tls_mod = require "lunasock.tls" end
  return tls_mod
end

-- Whether sock, a core or a TLS socket, is still open.
local function is_open(sock)
  if core.type(sock) == "socket" then return true end
  return tls_mod ~= nil and tls_mod.type(sock) == "tls socket"
end

---------------------------------------------------------------- dates

local date_sec, date_str = -1, ""
-- The Date field's text for the current second. The server's reaper calls
-- it every tick, so that a response can use date_str as it is (at most a
-- tick late) instead of asking the clock each time.
local function http_date()
  local now = os_time()
  if now ~= date_sec then
    date_sec, date_str = now, os_date("!%a, %d %b %Y %H:%M:%S GMT", now)
  end
  return date_str
end
M.http_date = http_date

---------------------------------------------------------------- output

-- The status line (cached per status) and fixed fields.
local status_lines = {}
local function status_line(status)
  local l = status_lines[status]
  if not l then
    local reason = REASON[status] or "Unknown"
    l = "HTTP/1.1 " .. status .. " " .. reason .. "\r\nServer: " .. M.SERVER .. "\r\nDate: "
    if REASON[status] then status_lines[status] = l end
  end
  return l
end

local function bad_field(name)
  error("invalid response header field " .. format("%q", tostring(name)), 0)
end

-- The user's header fields as wire text, and which framing/fields it set.
local function fields_text(headers)
  local out, n, clen, ctype, te, conn = {}, 0, nil, false, false, nil
  for name, value in pairs(headers) do
    if type(name) ~= "string" or not find(name, "^[!#$%%&'*+%-.^_`|~%w]+$") then
      bad_field(name)
    end
    value = tostring(value)
    if find(value, "[%z\r\n]") then bad_field(name) end
    local l = lower(name)
    if l == "content-length" then clen = value
    elseif l == "content-type" then ctype = true
    elseif l == "transfer-encoding" then te = true
    elseif l == "connection" then conn = lower(value)
    end
    n = n + 1
    out[n] = name .. ": " .. value .. "\r\n"
  end
  return concat(out, "", 1, n), clen, ctype, te, conn
end

local NO_BODY = {[204] = true, [304] = true}

-- Writes the response head (and a string body) for req. Returns the
-- framing for a streamed body ("length", "chunked", "close", or "none")
-- and, for "length", the byte count the handler's Content-Length
-- promised; or nil, msg, code when the write failed. Raises for a
-- response that cannot be framed.
local function write_head(conn, req, status, headers, str, stream_body)
  local keep = req.keep_alive and not conn.closing
  local extra, clen, ctype, te, cconn = "", nil, false, false, nil
  if headers then extra, clen, ctype, te, cconn = fields_text(headers) end
  if cconn and parse.has_token(cconn, "close") then keep = false end
  local framing, length
  local no_body = NO_BODY[status] or status < 200
  if no_body then
    framing = "none"
    if clen then error("a " .. status .. " response has no Content-Length", 0) end
  elseif stream_body then
    if clen then
      length = find(clen, "^%d+$") and math.tointeger(tonumber(clen))
      if not length then error("invalid Content-Length " .. format("%q", clen), 0) end
      framing = "length"
    elseif te then error("set Transfer-Encoding by returning a function body instead", 0)
    elseif req.version == "1.1" then
      framing = "chunked"
      extra = extra .. "Transfer-Encoding: chunked\r\n"
    else framing = "close"; keep = false
    end
  else
    str = str or ""
    if not clen then
      extra = extra .. "Content-Length: " .. #str .. "\r\n"
    elseif req.method ~= "HEAD" and clen ~= tostring(#str) then
      error(format("Content-Length %q for a body of %d bytes", clen, #str), 0)
    end
    framing = "none"
  end
  if not ctype and not no_body and (stream_body or str ~= "") then
    extra = extra .. "Content-Type: text/plain; charset=utf-8\r\n"
  end
  if not keep then
    conn.closing = true
    if not cconn then extra = extra .. "Connection: close\r\n" end
  elseif req.version == "1.0" and not cconn then
    extra = extra .. "Connection: keep-alive\r\n"
  end
  if req.method == "HEAD" or no_body then str = "" end
  local ok, err, code = conn.stream:write(status_line(status) .. http_date() .. "\r\n"
                                         .. extra .. "\r\n" .. (str or ""))
  req.status = status
  if not ok then return nil, err, code end
  if req.method == "HEAD" then framing = "none" end
  return framing, length
end

---------------------------------------------------------------- writers

local Writer = {__name = "lunasock.http.writer"}
Writer.__index = Writer

-- writer:write(piece) -> true, or nil, msg, code. With a Content-Length
-- set, what fits is sent and the bytes past it are refused ("EMSGSIZE"),
-- and the connection closes: sent, they would be read as the start of
-- the next response.
function Writer:write(piece)
  if self.finished then error("write after finish", 2) end
  if piece == nil or piece == "" then return true end
  piece = tostring(piece)
  local left = self.left
  if left and #piece > left then
    self.conn.closing = true
    if left > 0 then self:write(sub(piece, 1, left)) end
    return nil, "response body longer than its Content-Length", "EMSGSIZE"
  end
  if left then self.left = left - #piece end
  self.sent = self.sent + #piece
  local f = self.framing
  if f == "none" then return true end
  if f == "chunked" then return self.chunked:write(piece) end
  return self.stream:write(piece)
end

-- writer:finish([trailers]) -> true, or nil, msg, code. A body shorter
-- than its Content-Length leaves the client waiting for the rest: the
-- connection closes after it.
function Writer:finish(trailers)
  if self.finished then return true end
  self.finished = true
  if self.left and self.left > 0 then self.conn.closing = true end
  if self.framing == "chunked" then return self.chunked:finish(trailers) end
  return true
end

-- length: the Content-Length of a "length" framing (nil otherwise).
local function new_writer(conn, framing, length)
  local w = setmetatable({conn = conn, stream = conn.stream, framing = framing, sent = 0,
                          left = length, finished = false}, Writer)
  if framing == "chunked" then w.chunked = body.chunked_writer(conn.stream) end
  return w
end

---------------------------------------------------------------- requests

local Request = {__name = "lunasock.http.request"}
local methods = {}

function Request.__index(req, k)
  local m = methods[k]
  if m then return m end
  if k == "query" then
    local q = parse.query(req.query_string)
    req.query = q
    return q
  end
end

local EMPTY = setmetatable({}, {__call = function() return nil end})

-- Reading the next head waits without a socket timeout (the reaper
-- enforces the head and idle deadlines), which lets the loop park the
-- task in C. Body reads and response writes wait at most body_timeout
-- each: the timeout is set before the first of them, and the serving
-- loop clears it after the request.
local function body_io(conn)
  if not conn.timed then
    conn.timed = true
    conn.sock:settimeout(conn.server.opts.body_timeout)
  end
end

-- req:body_reader() -> a body reader (lunasock.http.body); sends
-- "100 Continue" first when the client asked for it.
function methods.body_reader(req)
  local r = rawget(req, "reader")
  if r then return r end
  local conn = req.conn
  body_io(conn)
  if req.expect_continue and not req.continued then
    req.continued = true
    conn.stream:write("HTTP/1.1 100 Continue\r\n\r\n")
  end
  if req.chunked then
    r = body.chunked(conn.stream, {max_body = conn.server.opts.max_body})
  elseif req.length > 0 then
    r = body.fixed(conn.stream, req.length)
  else
    r = EMPTY
  end
  req.reader = r
  return r
end

local function conn_max(req)
  return req.conn.server.opts.max_body or nil
end

-- req:read_body([max]) -> the whole body, or nil, msg, code
function methods.read_body(req, max)
  local b = req.body
  if b then return b end
  if not req.chunked and req.length == 0 then
    req.body = ""
    return ""
  end
  local err, code
  b, err, code = body.readall(methods.body_reader(req), max or conn_max(req))
  if not b then
    req.body_error = code
    return nil, err, code
  end
  req.body = b
  return b
end

-- req:respond(status[, headers]) -> writer: starts a streamed response.
-- Without a Content-Length it is chunked (HTTP/1.1) or ends with the
-- connection (HTTP/1.0).
function methods.respond(req, status, headers)
  if rawget(req, "responded") then
    error("respond: the response has already started", 2)
  end
  if math.type(status) ~= "integer" or status < 200 or status > 999 then
    error("bad argument #1 to 'respond' (status 200-999 expected)", 2)
  end
  req.responded = true
  body_io(req.conn)
  local framing, length, code = write_head(req.conn, req, status, headers, nil, true)
  if not framing then
    req.conn.closing = true
    local w = new_writer(req.conn, "none")
    w.error = {length, code}
    return w
  end
  local w = new_writer(req.conn, framing, length)
  req.writer = w
  return w
end

-- req:header(name) -> the field's value (any case)
function methods.header(req, name)
  return req.headers[name]
end

---------------------------------------------------------------- connections

-- A handler error or a worker event: to opts.on_error, else stderr.
-- (server: an http server or the workers object; both carry opts.)
local function log_error(server, msg)
  local f = server.opts.on_error
  if f then
    pcall(f, msg)
  else
    io.stderr:write("lunasock.http: ", msg, "\n")
    io.stderr:flush()
  end
end

local function access_log(server, req, status, bytes)
  local log = server.opts.access_log
  if type(log) == "function" then
    pcall(log, req, status, bytes)
  else
    local f = io_type(log) == "file" and log or io.stderr
    f:write(format('%s - - [%s] "%s %s HTTP/%s" %d %s\n', req.peer or "-",
                   os_date("!%d/%b/%Y:%H:%M:%S +0000"), req.method, req.target,
                   req.version, status, bytes and tostring(bytes) or "-"))
    f:flush()
  end
end

-- Closes after an error without losing the response to a reset: stop
-- writing, read what the client still sends (bounded), then close.
local function linger_close(conn)
  local sock = conn.sock
  if not is_open(sock) then return end
  sock:shutdown("w")
  sock:settimeout(1)
  local got = 0
  while got < 262144 do
    local data = sock:recv(16384)
    if not data or data == "" then break end
    got = got + #data
  end
  sock:close()
end

local function send_error(conn, status, why, version)
  local text = (REASON[status] or "Error") .. ": " .. (why or "") .. "\n"
  conn.stream:write(status_line(status) .. http_date()
                    .. "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
                    .. #text .. "\r\nConnection: close\r\n\r\n" .. text)
  if conn.server.opts.access_log then
    access_log(conn.server, {method = "-", target = "-", version = version or "1.1",
                             peer = conn.peer}, status, #text)
  end
  conn.closing = true
end

local function handler_traceback(msg)
  return traceback(type(msg) == "string" and msg or tostring(msg), 2)
end

-- A file body with a Content-Length, from the file's position: the head
-- (in the stream) goes first, then sock:sendfile moves the bytes without
-- copying them through Lua. Fewer than promised (the file shrank) or a
-- failure closes the connection. The file is closed.
local function send_file(conn, w, src)
  local left = w.left
  local ok, err, code = conn.stream:flush()
  local sent = 0
  if ok and left > 0 then
    local n
    n, err, code, sent = conn.sock:sendfile(src, src:seek(), left)
    sent = n or sent or 0
  end
  src:close()
  w.sent, w.left = sent, left - sent
  w:finish()  -- closes the connection after a body cut short
  if err ~= nil then conn.closing = true end
  return sent, err, code
end

-- Streams a function or file body with the given framing (length: the
-- Content-Length, which also bounds what is read from a file).
local function send_stream(conn, framing, src, length)
  local w = new_writer(conn, framing, length)
  local is_file = io_type(src) == "file"
  local ok, err, code = true, nil, nil
  if is_file and framing == "length" and conn.sock.sendfile then
    return send_file(conn, w, src)
  end
  while true do
    local piece
    if is_file then
      local n = w.left and (w.left < 65536 and w.left or 65536) or 65536
      if n == 0 then break end
      piece = src:read(n)
    else
      piece = src()
    end
    if piece == nil then break end
    ok, err, code = w:write(piece)
    if not ok then break end
  end
  if is_file then src:close() end
  if ok then ok, err, code = w:finish() end
  if not ok then conn.closing = true end
  return w.sent, err, code
end

-- The response heads the fast path below sends: status line, Server and
-- the name of the Date field, for the statuses that may have a body.
local fast_lines = {}
for status in pairs(REASON) do
  if status >= 200 and not NO_BODY[status] then fast_lines[status] = status_line(status) end
end
local TEXT_TYPE = "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
local length_fields = {}   -- n -> "\r\nContent-Length: n", for n < 4096
-- Whole fast-path responses with short bodies, by status and body, for
-- the current Date (emptied when it changes): a handler answering with
-- the same text each time costs no concatenation.
local cached_date, cached, ncached = nil, {}, 0

-- One request: run the handler and send what it returns.
local function respond(conn, req)
  local server = conn.server
  local ok, status, headers, res_body = xpcall(server.handler, handler_traceback, req)
  -- The common case, in one string and (nearly always) one send: a known
  -- status with a string body and no header fields, on a keep-alive
  -- HTTP/1.1 connection. Everything else goes the general way below.
  -- (conn.timed is still false when the handler has neither read the
  -- body nor started a response itself)
  local line = ok and headers == nil and fast_lines[status]
  if line and not conn.timed and req.keep_alive and req.version == "1.1"
     and req.method ~= "HEAD" and not conn.closing and math_type(status) == "integer" then
    if cached_date ~= date_str then cached_date, cached, ncached = date_str, {}, 0 end
    local by_body = cached[status]
    local data = by_body and by_body[res_body]   -- found: res_body is a string
    if not data and type(res_body) == "string" then
      local n = #res_body
      local clen = length_fields[n]
      if not clen then
        clen = "\r\nContent-Length: " .. n
        if n < 4096 then length_fields[n] = clen end
      end
      if n > 0 then
        data = line .. date_str .. clen .. TEXT_TYPE .. res_body
      else
        data = line .. date_str .. clen .. "\r\n\r\n"
      end
      if n <= 256 and ncached < 64 then
        if not by_body then by_body = {}; cached[status] = by_body end
        by_body[res_body], ncached = data, ncached + 1
      end
    end
    if data then
      req.status = status
      local sent, err, code = conn.sock:send(data, MSG_DONTWAIT)
      if sent ~= #data and (sent or code == "EAGAIN") then
        body_io(conn)
        sent, err = conn.stream:write(sent and sub(data, sent + 1) or data)
      end
      if not sent then
        conn.closing = true
        return status, nil, err
      end
      return status, #res_body
    end
  end
  body_io(conn)
  if not ok then
    log_error(server, "handler error: " .. tostring(status))
    if rawget(req, "responded") then conn.closing = true return 500 end
    status, headers, res_body = 500, nil, "Internal Server Error\n"
    conn.closing = true
  end
  if rawget(req, "responded") then
    local w = req.writer
    if w and not w.finished then
      local fok = w:finish()
      if not fok then conn.closing = true end
    end
    if not w or (w.framing == "close") then conn.closing = true end
    return req.status, w and w.sent
  end
  if rawget(req, "body_error") then
    local code = req.body_error
    status, headers = code == "EMSGSIZE" and 413 or code == "ETIMEDOUT" and 408 or 400, nil
    res_body = (REASON[status]) .. "\n"
    conn.closing = true
    if code == "closed" then return nil end
  end
  local t = type(status)
  if t == "table" then
    status, headers, res_body = status.status or 200, status.headers, status.body
  elseif t == "string" then
    status, headers, res_body = 200, nil, status
  elseif status == nil then
    log_error(server, "handler returned no response for " .. req.method .. " " .. req.target)
    status, headers, res_body = 500, nil, "Internal Server Error\n"
  end
  if math.type(status) ~= "integer" or status < 100 or status > 999 then
    log_error(server, "handler returned an invalid status: " .. tostring(status))
    status, headers, res_body = 500, nil, "Internal Server Error\n"
  end
  local bt = type(res_body)
  local ok2, framing, length = pcall(write_head, conn, req, status, headers,
                                     bt == "string" and res_body or nil,
                                     bt == "function" or io_type(res_body) == "file")
  if not ok2 then
    log_error(server, "bad response: " .. tostring(framing))
    if io_type(res_body) == "file" then res_body:close() end
    send_error(conn, 500, "bad response")
    return 500
  end
  if not framing then        -- the write failed: length is its message
    if io_type(res_body) == "file" then res_body:close() end
    conn.closing = true
    return status, nil, length
  end
  if bt == "function" or io_type(res_body) == "file" then
    if framing == "none" then
      if io_type(res_body) == "file" then res_body:close() end
      return status, 0
    end
    return status, send_stream(conn, framing, res_body, length)
  end
  return status, bt == "string" and #res_body or 0
end

-- After the response: what is left of the request body is read and
-- dropped (up to opts.drain bytes) so that the next request can be
-- found; otherwise the connection closes.
local function finish_body(conn, req)
  if not req.chunked and req.length == 0 then return end
  local r = rawget(req, "reader")
  if r and (r.done or r == EMPTY) then return end
  if (r and r.error) or (req.expect_continue and not req.continued) then
    conn.closing = true
    return
  end
  if not req.chunked and req.length > conn.server.opts.drain then
    conn.closing = true
    return
  end
  r = methods.body_reader(req)
  local got, limit = 0, conn.server.opts.drain
  while true do
    local piece = r()
    if not piece then
      if r.error then conn.closing = true end
      return
    end
    got = got + #piece
    if got > limit then conn.closing = true return end
  end
end

-- The next request: the request table, or nil, status, reason to answer
-- with an error, or nil when the connection should close quietly.
-- core.http_head finds the end of the head in the stream's buffer and
-- splits the strictly well-formed head (parse.fields decides the rest);
-- any other head goes to parse.request, for its status. A LF without a
-- CR before it (a client typing into nc) is refused as soon as it comes,
-- not after header_timeout.
local function read_request(conn)
  local st, server = conn.stream, conn.server
  local opts, fields = server.opts, conn.fields
  while true do
    local buf, pos = st.buf, st.pos
    if pos <= #buf then
      local stop, method, target, minor, n =
        http_head(buf, pos, opts.max_head, fields)
      if stop then
        st.pos = stop
        conn.deadline, conn.waiting = false, false
        if #method + #target + 10 > opts.max_request_line then
          return nil, 414, "request line too long"
        end
        return parse_fields(method, target, minor, fields, n, opts)
      elseif stop == false then           -- outside the strict form: diagnose
        st.pos = target + 5
        conn.deadline, conn.waiting = false, false
        return parse_request(sub(buf, method, target), opts)
      elseif method == "EPROTO" then
        return nil, 400, "bare LF in the request head"
      elseif method == "EMSGSIZE" then
        local got = sub(buf, pos)
        st.buf, st.pos = "", 1
        local le = find(got, "\r\n", 1, true)
        if not le or le > opts.max_request_line + 1 then
          return nil, 414, "request line too long"
        end
        return nil, 431, "request head too large"
      end
    end
    if not st:fill() then
      local partial = sub(st.buf, st.pos)
      if conn.timed_out and partial ~= "" and not find(partial, "^[\r\n]*$") then
        return nil, 408, "request head not received in time"
      end
      return nil
    end
  end
end

local function serve_conn(server, sock, peer)
  if server.tls then
    -- the handshake, in this connection's task: a client that stalls in
    -- it holds up nobody, and is cut after handshake_timeout
    local ts = tls_module().wrap(sock, server.tls, {timeout = server.opts.handshake_timeout})
    if not ts then return end   -- wrap closed the socket
    sock = ts
  end
  local opts = server.opts
  local st = stream.new(sock)
  st.max_line = opts.max_head
  local conn = {server = server, sock = sock, stream = st, peer = peer,
                deadline = server.now + opts.header_timeout, waiting = true,
                closing = false, timed_out = false, timed = false, fields = {}}
  server.conns[sock] = conn
  local idle = opts.idle_timeout
  local log = opts.access_log
  local first = true
  while true do
    if not first then
      conn.deadline = server.now + idle
      conn.waiting = true
    end
    first = false
    local req, status, why = read_request(conn)
    if not req then
      if status then send_error(conn, status, why) end
      break
    end
    req.conn, req.peer = conn, peer
    setmetatable(req, Request)
    local rstatus, bytes = respond(conn, req)
    if log and rstatus then access_log(server, req, rstatus, bytes) end
    if not conn.closing and (req.chunked or req.length ~= 0) then finish_body(conn, req) end
    if conn.closing or server.closed then break end
    if conn.timed then
      conn.timed = false
      sock:settimeout(nil)
    end
  end
  server.conns[sock] = nil
  if conn.closing then linger_close(conn) elseif is_open(sock) then sock:close() end
end

---------------------------------------------------------------- servers

local Server = {}
Server.__index = Server
Server.__name = "lunasock.http.server"

local function accept_loop(server)
  local l, backoff = server.sock, 0.01
  -- close() may come before this task first runs: accept on a closed
  -- socket raises
  while core.type(l) == "socket" do
    local c, host, code = l:accept()
    if c then
      backoff = 0.01
      c:setopt("nodelay", true)
      loop.spawn(serve_conn, server, c, host)
    elseif code == "EMFILE" or code == "ENFILE" or code == "ENOBUFS" or code == "ENOMEM" then
      loop.sleep(backoff)
      backoff = backoff < 0.5 and backoff * 2 or 0.5
    end
  end
end

-- The reaper: a coarse clock and the head/idle deadlines.
local function reaper(server)
  local tick = server.tick
  local header_timeout = server.opts.header_timeout
  while not server.closed do
    loop.sleep(tick)
    local now = monotime()
    server.now = now
    http_date()
    for sock, conn in pairs(server.conns) do
      if conn.waiting and conn.deadline then
        if conn.deadline <= now then
          conn.timed_out, conn.deadline = true, false
          if is_open(sock) then sock:shutdown("r") end
        elseif conn.stream:buffered() > 0 and not conn.head_started then
          -- bytes of a request have come: the head deadline applies
          conn.head_started = true
          local d = now + header_timeout
          if d < conn.deadline then conn.deadline = d end
        end
      end
      if not conn.waiting then conn.head_started = false end
    end
  end
end

-- server:close(): stops accepting and closes every connection.
function Server:close()
  if self.closed then return end
  self.closed = true
  self.sock:close()
  for sock in pairs(self.conns) do sock:close() end
  self.conns = {}
  if self.reaper_task then self.reaper_task:cancel() end
  if self.on_close then self.on_close() end
end
Server.__close = Server.close

local function check_limits(opts)
  local o = {}
  for k, v in pairs(M.DEFAULTS) do o[k] = v end
  for k, v in pairs(opts) do o[k] = v end
  for _, k in ipairs{"max_request_line", "max_head", "max_headers", "drain"} do
    if math.type(o[k]) ~= "integer" or o[k] < 1 then
      error(("http.server: %s must be a positive integer"):format(k), 3)
    end
  end
  if o.max_body ~= false and (math.type(o.max_body) ~= "integer" or o.max_body < 0) then
    error("http.server: max_body must be a non-negative integer or false", 3)
  end
  for _, k in ipairs{"header_timeout", "idle_timeout", "body_timeout", "handshake_timeout"} do
    if type(o[k]) ~= "number" or o[k] ~= o[k] or o[k] <= 0 then
      error(("http.server: %s must be a positive number of seconds"):format(k), 3)
    end
  end
  return o
end

-- server.new{host = "127.0.0.1", port = 0, handler = fn | router,
-- root = DIR, limits and timeouts (M.DEFAULTS), access_log = true | file |
-- fn(req, status, bytes), on_error = fn(msg), methods = set, workers = N,
-- backlog, tls = {cert, key, ...} | tls.context (HTTPS; the handshake in
-- each connection's task, bounded by handshake_timeout)} -> server
-- (fields host, port, sock; close()), or nil, msg, code.
function M.new(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'server' (table expected)", 2) end
  local handler = opts.handler
  if opts.root then
    local static = require "lunasock.http.static"
    local files = static.handler(opts.root, opts)
    if handler then
      local h = handler
      handler = function(req)
        local s, hd, b = h(req)
        if s == 404 and not req.responded then return files(req) end
        return s, hd, b
      end
    else
      handler = files
    end
  end
  if handler == nil then error("http.server: a handler or a root is needed", 2) end
  local o = check_limits(opts)
  local workers = opts.workers or 1
  if math.type(workers) ~= "integer" or workers < 1 then
    error("http.server: workers must be a positive integer", 2)
  end
  if workers > 1 then return M.start_workers(o, handler, workers) end
  local sock, err, code = lunasock.tcp.listen(o.host or "127.0.0.1", o.port or 0,
                                              {backlog = o.backlog, reuseport = o.reuseport})
  if not sock then return nil, err, code end
  return M.serve_socket(sock, o, handler)
end

-- Serves on an already listening socket (used by new and by workers).
function M.serve_socket(sock, o, handler)
  local smallest = math.min(o.header_timeout, o.idle_timeout)
  local ctx, err, code = serve.tls_context(o.tls)   -- tls: as tcp.serve takes it
  if ctx == nil then
    sock:close()
    return nil, err, code
  end
  local server = setmetatable({sock = sock, opts = o, handler = handler, conns = {},
                               now = monotime(), closed = false, tls = ctx,
                               tick = math.min(0.5, smallest / 4)}, Server)
  server.host, server.port = sock:getsockname()
  http_date()
  server.task = loop.spawn(accept_loop, server)
  server.reaper_task = loop.spawn(reaper, server)
  return server
end

---------------------------------------------------------------- workers

-- workers = N: N processes serving one port, each with its own listening
-- socket (SO_REUSEPORT: the kernel spreads new connections over them by
-- a hash of the addresses) and its own loop. The parent binds the port
-- without listening, so that port 0 is chosen once and the port stays
-- held while workers come and go; it serves nothing itself. While the
-- parent's loop runs it supervises: a worker that dies is reaped and a
-- new one started in its place.
--
-- Each worker is tied to the parent by a socketpair, its link. The worker
-- sends "+" once it listens (or "-CODE\tmessage" if it cannot) and
-- nothing more, so EOF on the parent's end means the worker has died:
-- no SIGCHLD handler, which would be process-wide state. The parent never
-- writes; when its end closes (the parent died, or left without close())
-- the worker stops serving and exits, so no worker outlives it. close()
-- sends SIGTERM, whose default action ends a worker at once.
local Workers = {__name = "lunasock.http.workers"}
Workers.__index = Workers

M.WORKERS = {
  start_timeout = 30,   -- seconds a new worker has to report it listens
  stop_timeout = 5,     -- seconds from SIGTERM (or EOF) to SIGKILL
  restart_delay = 0.1,  -- a worker that dies within a second of its
  max_restart_delay = 5,  -- start is replaced after this, doubling
}

-- The parent's hold on the port: bound as lunasock.tcp.listen binds
-- ("*" and "::" dual stack, else the first address of host), with
-- SO_REUSEPORT, and not listening (a listener would be given its share
-- of the connections and never accept them).
local function reserve(host, port)
  local family, addr = "inet6", "::"
  local dual = host == "*" or host == "::"
  if not dual then
    local list, err, code = core.getaddrinfo(host, port, {socktype = core.SOCK_STREAM,
                                                          flags = core.AI_PASSIVE})
    if not list then return nil, err, code end
    if not list[1] then return nil, "no address for " .. host, "EAI_NONAME" end
    family, addr = list[1].family, list[1].addr
  end
  local s, err, code = core.socket(family, "stream")
  if not s and dual and host == "*" then
    addr, dual = "0.0.0.0", false
    s, err, code = core.socket("inet", "stream")
  end
  if not s then return nil, err, code end
  if dual then s:setopt("v6only", false) end
  s:setopt("reuseaddr", true)
  local ok
  ok, err, code = s:setopt("reuseport", true)
  if ok then ok, err, code = s:bind(addr, port) end
  if not ok then
    s:close()
    return nil, err, code
  end
  return s
end

-- A worker, after the fork: forgets the parent's loop, closes what only
-- the parent should hold, listens, reports on link, and serves until
-- link reaches EOF. Returns its exit status.
local function worker_main(self, link)
  loop.reset()
  self.sock:close()
  for _, w in pairs(self.workers) do w.link:close() end  -- the others' links
  local status = 0
  local ok, err = pcall(loop.run, function()
    local l, lerr, lcode = lunasock.tcp.listen(self.host, self.port,
                                               {backlog = self.opts.backlog, reuseport = true})
    if not l then
      link:send("-" .. tostring(lcode) .. "\t" .. tostring(lerr))
      status = 1
      return
    end
    local srv, serr, scode = M.serve_socket(l, self.opts, self.handler)
    if not srv then
      link:send("-" .. tostring(scode) .. "\t" .. tostring(serr))
      status = 1
      return
    end
    link:send("+")
    link:recv(1)  -- "" (or an error) once the parent's end is closed
    -- let the accept task reach its first accept (EOF may have been there
    -- at once): a server closed before that makes accept raise
    coroutine.yield()
    srv:close()
  end)
  if not ok then
    io.stderr:write("lunasock.http: worker ", core.getpid(), ": ", tostring(err), "\n")
    status = 1
  end
  return status
end

-- Reaps pid: waits (a task sleeps; otherwise the process) until it has
-- exited or deadline passes, then SIGKILLs it. Returns how it ended, as
-- core.waitpid does, or nil if it was not ours to reap (any more).
local function reap(pid, deadline)
  local delay = 0.001
  while true do
    local r, how, value, name = core.waitpid(pid, core.WNOHANG)
    if r ~= 0 then
      if r then return how, value, name end
      return nil
    end
    if core.monotime() >= deadline then
      core.kill(pid, "KILL")
      r, how, value, name = core.waitpid(pid)
      if r then return how, value, name end
      return nil
    end
    loop.sleep(delay)
    delay = math.min(delay * 2, 0.05)
  end
end

-- Forks one worker and waits (a task yields; otherwise the process
-- blocks) until it listens. -> the worker {pid, link, started}, or nil,
-- msg, code. The worker is in self.workers from the fork on, so that
-- close() stops it even while this waits.
local function spawn(self)
  local a, b, code = core.socketpair()
  if not a then return nil, b, code end
  local pid, err
  pid, err, code = core.fork()
  if pid == 0 then
    -- The child. It never returns from here into the caller, which is
    -- the parent's code (a test runner, a task of the parent's loop).
    a:close()
    local ok, status = pcall(worker_main, self, b)
    os.exit(ok and status or 1)
  end
  b:close()
  if not pid then
    a:close()
    return nil, err, code
  end
  local w = {pid = pid, link = a, started = core.monotime()}
  self.workers[pid] = w
  a:settimeout(M.WORKERS.start_timeout)
  local reply, rerr, rcode = a:recv(512)
  a:settimeout(nil)
  if reply == "+" then return w end
  if self.workers[pid] then  -- close() has not taken it over
    self.workers[pid] = nil
    reap(pid, core.monotime())  -- SIGKILL unless it has exited already
    a:close()
  end
  if reply and reply ~= "" then
    local c, msg = reply:match("^%-([^\t]*)\t(.*)$")
    return nil, "worker " .. pid .. ": " .. (msg or reply), c or "EINVAL"
  elseif reply then
    return nil, "worker " .. pid .. " exited before it listened", "ECHILD"
  end
  return nil, "worker " .. pid .. ": " .. tostring(rerr), rcode
end

local function ending(how, value, name)
  if how == "exited" then return "exited with status " .. tostring(value) end
  if how == "signaled" then
    return "was killed by signal " .. tostring(value) .. (name and " (SIG" .. name .. ")" or "")
  end
  return "has gone"
end

-- One task per worker slot, in the parent's loop: waits for its worker
-- to die, reaps it and starts another, until close().
local function supervise(self, w)
  local delay = 0
  while true do
    w.link:recv(1)  -- "" at EOF: the worker has exited
    if self.closed then return end
    self.workers[w.pid] = nil
    local how, value, name = reap(w.pid, core.monotime() + M.WORKERS.stop_timeout)
    w.link:close()
    log_error(self, ("worker %d %s; starting another"):format(w.pid, ending(how, value, name)))
    if core.monotime() - w.started < 1 then
      delay = math.min(math.max(delay * 2, M.WORKERS.restart_delay),
                       M.WORKERS.max_restart_delay)
      loop.sleep(delay)
    else
      delay = 0
    end
    local err, code
    while true do
      if self.closed then return end
      w, err, code = spawn(self)
      if w then break end
      log_error(self, ("starting a worker failed: %s (%s)"):format(tostring(err), tostring(code)))
      delay = math.min(math.max(delay * 2, M.WORKERS.restart_delay),
                       M.WORKERS.max_restart_delay)
      loop.sleep(delay)
    end
  end
end

-- workers:pids() -> the pids of the workers running now, sorted
function Workers:pids()
  local list = {}
  for pid in pairs(self.workers) do list[#list + 1] = pid end
  table.sort(list)
  return list
end

-- workers:close(): stops supervising, sends every worker SIGTERM and
-- reaps it (SIGKILL for one still there after WORKERS.stop_timeout), and
-- lets go of the port. Inside a task the waiting yields.
function Workers:close()
  if self.closed then return end
  self.closed = true
  local current = loop.current()
  for _, t in ipairs(self.tasks) do
    if t ~= current then t:cancel() end
  end
  self.sock:close()
  local workers = self.workers
  for pid in pairs(workers) do core.kill(pid, "TERM") end
  local deadline = core.monotime() + M.WORKERS.stop_timeout
  for pid, w in pairs(workers) do
    reap(pid, deadline)
    w.link:close()
  end
  self.workers = {}
end
Workers.__close = Workers.close

-- Starts n workers (see above) -> workers (fields host, port, sock;
-- pids(), close()), or nil, msg, code. Every descriptor the process has
-- open is inherited by the workers, so start them early.
function M.start_workers(o, handler, n)
  local s, err, code = reserve(o.host or "127.0.0.1", o.port or 0)
  if not s then return nil, err, code end
  local self = setmetatable({sock = s, opts = o, handler = handler, workers = {},
                             tasks = {}, closed = false}, Workers)
  self.host, self.port = s:getsockname()
  local started = {}
  for i = 1, n do
    local w, e, c = spawn(self)
    if not w then
      self:close()
      return nil, e, c
    end
    started[i] = w
  end
  for i, w in ipairs(started) do self.tasks[i] = loop.spawn(supervise, self, w) end
  return self
end

M.Request, M.Writer = Request, Writer
return M
