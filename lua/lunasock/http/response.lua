-- lunasock.http.response: a server's response. What a handler returned,
-- turned into a head and a body on the connection.
--
--   response.send(conn, req, ok, status, headers, body) -> status, bytes
--       Sends what the handler returned (ok false: it raised, status is
--       the message), or finishes a streamed response. bytes: body bytes
--       sent (nil when the write failed).
--   response.start(conn, req, status, headers) -> writer, for
--       req:respond (w:write(piece), w:finish([trailers])).
--   response.error(conn, status, why): an error answer, then the
--       connection closes.
--   response.write_head(conn, req, status, headers, str, streamed) ->
--       framing, length (or nil, msg, code when the write failed): the one
--       place a response head is made. Its first branch is the fast path:
--       a known status, a string body, no header fields, keep-alive
--       HTTP/1.1, written whole as one string kept for the current second;
--       its output is byte for byte what the general branch makes for the
--       same response with headers {}.
--   response.prepare(headers) -> prepared: header fields checked and
--       made wire text once, for a handler that sends the same fields
--       again and again (a static file's validators): returned as the
--       headers of a response, they cost no check and no formatting.
--   response.whole(status, body) -> the whole answer the fast path sends
--       for a string body without header fields (nil: not a FAST
--       status), for the server's cycle in C, which keeps it.
--   response.rest(conn, data): sends through the stream what one send
--       that did not wait left of an answer.
--   response.flush(conn): sends the answers held for pipelined requests.
--   response.timed(conn): from here on the connection's reads and writes
--       wait at most body_timeout each, and all of them end by
--       request_timeout (the reaper shuts the connection).
--   response.tick(): refreshes the Date text (the server's reaper calls
--       it, so that a response takes it as it is).
--   response.SERVER: the Server field's value (false: none). A handler's
--       own Server field replaces it.
local core = require "lunasock.core"
local h1 = require "lunasock.http.h1"
local body = require "lunasock.http.body"

local find, sub, lower, format = string.find, string.sub, string.lower, string.format
local type, pairs, tostring, setmetatable, getmetatable, error, pcall, rawget =
  type, pairs, tostring, setmetatable, getmetatable, error, pcall, rawget
local math_type, tointeger, tonumber = math.type, math.tointeger, tonumber
local os_time, os_date, io_type = os.time, os.date, io.type
local REASON, check_field, has_token = h1.REASON, h1.check_field, h1.has_token
local MSG_DONTWAIT = core.MSG_DONTWAIT

local M = {}

M.SERVER = "lunasock"

---------------------------------------------------------------- heads

-- Whole fast-path responses with short bodies, by status and body, for
-- the current Date and SERVER (see write_head): a handler answering the
-- same text each time costs no concatenation and no allocation. Emptied
-- when the Date text changes.
local cached_date, cached, ncached = nil, {}, 0

local date_sec, date_str = -1, ""
local function tick()
  local now = os_time()
  if now ~= date_sec then
    date_sec, date_str = now, os_date("!%a, %d %b %Y %H:%M:%S GMT", now)
    cached, ncached = {}, 0
  end
  return date_str
end
M.tick = tick
M.http_date = tick

local NO_BODY = {[204] = true, [304] = true}
local FAST = {}   -- the statuses with a reason and a body: the fast path's
for status in pairs(REASON) do
  if status >= 200 and not NO_BODY[status] then FAST[status] = true end
end
local TEXT = "text/plain; charset=utf-8"

-- "HTTP/1.1 200 OK\r\n" per status, and the same with the Server field
-- and the name of the Date field (rebuilt when SERVER changes).
local status_lines, head_starts, server_of = {}, {}, nil
local function status_line(status)
  local l = status_lines[status]
  if not l then
    l = format("HTTP/1.1 %d %s\r\n", status, REASON[status] or "Unknown")
    if REASON[status] then status_lines[status] = l end
  end
  return l
end

local length_fields = {}   -- n -> "\r\nContent-Length: n", for n < 4096
-- Whole fast-path responses with prepared fields (a static file's), by
-- the prepared table: {status, body, response, Date text}, for the
-- current Date (emptied when it changes), WHOLE_BYTES of responses at
-- most.
local whole, whole_bytes = {}, 0
local WHOLE_BYTES = 1024 * 1024

local function head_start(status)
  if server_of ~= M.SERVER then
    server_of, head_starts, cached, ncached = M.SERVER, {}, {}, 0
  end
  local s = head_starts[status]
  if not s then
    s = status_line(status) .. (M.SERVER and ("Server: " .. M.SERVER .. "\r\n") or "")
        .. "Date: "
    if REASON[status] then head_starts[status] = s end
  end
  return s
end

local function bad_field(name)
  error("invalid response header field " .. format("%q", tostring(name)), 0)
end

-- Field lines already checked, by name then value ("Name: value\r\n"),
-- with each name's lower case: a handler sending the same fields again
-- (a Content-Type, a static file's validators) skips the checks, which
-- cost some 12,000 instructions a field. Strings and integers only, and
-- emptied when it holds LINES_MAX lines.
local checked, lowers, nchecked = {}, {}, 0
local LINES_MAX = 4096

-- The lines of a field given as a list of values, each checked; the
-- fields the server reads itself (Content-Length, Connection, ...) take
-- one value only.
local SINGLE = {["content-length"] = true, ["content-type"] = true, ["server"] = true,
                ["transfer-encoding"] = true, ["connection"] = true}
local function list_lines(name, values)
  if type(name) == "string" and SINGLE[lower(name)] then error("one value only", 0) end
  local lines = {}
  for i = 1, #values do
    lines[i] = name .. ": " .. check_field(name, values[i]) .. "\r\n"
  end
  return table.concat(lines)
end

-- The handler's fields as wire text, and which of the ones the server
-- writes itself it set.
local function fields_text(headers)
  local out, n, clen, ctype, te, conn, server = {}, 0, nil, false, false, nil, false
  for name, value in pairs(headers) do
    if type(value) == "table" then   -- a list: one field line each (Set-Cookie)
      local ok, lines = pcall(list_lines, name, value)
      if not ok then bad_field(name) end
      n = n + 1
      out[n] = lines
      goto next_field
    end
    local by_value = checked[name]
    local line = by_value and by_value[value]
    local l
    if line then
      l = lowers[name]
      value = tostring(value)
    else
      local key = value
      local ok
      ok, value = pcall(check_field, name, value)
      if not ok then bad_field(name) end
      l = lower(name)
      line = name .. ": " .. value .. "\r\n"
      local kt = type(key)
      if kt == "string" or math_type(key) == "integer" then
        if nchecked >= LINES_MAX then checked, lowers, nchecked = {}, {}, 0 end
        if not by_value then by_value = {}; checked[name] = by_value end
        by_value[key], lowers[name], nchecked = line, l, nchecked + 1
      end
    end
    if l == "content-length" then clen = value
    elseif l == "content-type" then ctype = true
    elseif l == "transfer-encoding" then te = true
    elseif l == "connection" then conn = lower(value)
    elseif l == "server" then server = true
    end
    n = n + 1
    out[n] = line
    ::next_field::
  end
  return table.concat(out, "", 1, n), clen, ctype, te, conn, server
end

-- Prepared fields: what fields_text returns, kept ({text, clen, ctype,
-- te, conn, server}); the table is the handler's to return, not to change.
local Prepared = {__name = "lunasock.http.prepared"}

function M.prepare(headers)
  if type(headers) ~= "table" then
    error("bad argument #1 to 'prepare' (table expected)", 2)
  end
  local ok, text, clen, ctype, te, conn, server = pcall(fields_text, headers)
  if not ok then error(text, 2) end
  -- [7]: the Content-Length as an integer when write_head's fast path
  -- may send these fields as they are
  local simple = clen and ctype and not te and not conn and not server
                 and find(clen, "^%d+$") and #clen <= 15 and tointeger(tonumber(clen))
  return setmetatable({text, clen or false, ctype, te, conn or false, server, simple or false},
                      Prepared)
end

local HOLD = 16384   -- bytes of answers held for pipelined requests, at most

-- What one send that did not wait left (sent bytes of data went, or
-- none: nil, err, code): the rest through the stream, with the body
-- timeout (restored after, when this is not the body phase).
local function send_rest(conn, data, sent, err, code)
  if not (sent or code == "EAGAIN") then
    conn.closing = true
    return nil, err, code
  end
  if sent and sent > 0 then data = sub(data, sent + 1) end
  local timed = conn.timed
  M.timed(conn)
  local ok
  ok, err, code = conn.stream:write(data)
  if not timed then
    conn.timed = false
    conn.sock:settimeout(nil)
  end
  if not ok then conn.closing = true end
  return ok, err, code
end

-- Sends data now: one send that does not wait, which is all it takes
-- unless the client is slow to read (a TLS socket: the stream at once).
local function send_now(conn, data)
  if conn.server.plain then
    local sent, err, code = conn.sock:send(data, MSG_DONTWAIT)
    if sent == #data then return true end
    return send_rest(conn, data, sent, err, code)
  end
  return send_rest(conn, data, 0)
end

-- response.flush(conn) -> true, or nil, msg, code: sends the answers
-- held for pipelined requests (before the connection waits, or writes
-- anything else).
function M.flush(conn)
  local out = conn.out
  if not out then return true end
  conn.out = false
  return send_now(conn, out)
end

-- Sends a whole fast-path response (head and body in one string): while
-- more pipelined requests are buffered the answers are held (conn.out)
-- and leave in one send when the connection next waits. -> "none", or
-- nil, msg, code.
local function send_whole(conn, data)
  local out = conn.out
  if out then
    data = out .. data
    conn.out = false
  end
  if conn.pos <= #conn.buf and #data < HOLD then
    conn.out = data
    return "none"
  end
  local ok, err, code = send_now(conn, data)
  if ok then return "none" end
  return nil, err, code
end

-- The fast path's answer with no header fields (head and body, one
-- string) for status, a FAST one, and the string body str, kept per
-- status and body for short bodies; after the check of write_head's fast
-- path, which leaves the Date and SERVER caches fresh.
local function whole_answer(status, str)
  local by_body = cached[status]
  local data = by_body and by_body[str]
  if data then return data end
  local n = #str
  local clen = length_fields[n]
  if not clen then
    clen = "\r\nContent-Length: " .. n
    if n < 4096 then length_fields[n] = clen end
  end
  data = head_start(status) .. date_str .. clen
         .. (n > 0 and "\r\nContent-Type: " .. TEXT .. "\r\n\r\n" or "\r\n\r\n") .. str
  if n <= 256 and ncached < 64 then
    if not by_body then by_body = {}; cached[status] = by_body end
    by_body[str], ncached = data, ncached + 1
  end
  return data
end

-- Empties the caches when the Date text or SERVER has changed since they
-- were made.
local function fresh_caches(status)
  if cached_date ~= date_str or server_of ~= M.SERVER then
    head_start(status)
    cached_date, cached, ncached = date_str, {}, 0
    whole, whole_bytes = {}, 0
  end
end

-- response.whole(status, body) -> the whole answer write_head's fast path
-- sends for this status and string body with no header fields, to a
-- keep-alive HTTP/1.1 request that is not HEAD, with the current Date
-- and SERVER; nil for a status the fast path does not take. For the
-- server's cycle in C (core.http_parser), which keeps it for the second.
function M.whole(status, str)
  if not FAST[status] or type(str) ~= "string" then return nil end
  tick()
  fresh_caches(status)
  return whole_answer(status, str)
end

-- response.rest(conn, data) -> true, or nil, msg, code: sends through
-- the stream what a send that did not wait left of an answer (the
-- body timeout applies).
function M.rest(conn, data)
  return send_rest(conn, data, 0)
end

-- The response head for req (and str, a string body or nil, sent with it). Returns
-- the framing of a streamed body ("length", "chunked", "close" or "none")
-- and, for "length", the Content-Length promised; nil, msg, code when the
-- write failed. Raises for a response that cannot be framed.
function M.write_head(conn, req, status, headers, str, streamed)
  -- the fast path: one string, kept whole for the current second
  -- (or prepared fields that set Content-Length, to #str, and
  -- Content-Type, and none of Transfer-Encoding, Connection, Server)
  local prepared = headers ~= nil and str and getmetatable(headers) == Prepared
                   and headers[7] == #str
  if (headers == nil or prepared) and str and FAST[status] and req.keep_alive
     and req.version == "1.1" and req.method ~= "HEAD" and not conn.closing then
    fresh_caches(status)
    local data
    if prepared then
      -- kept whole, for this second, while WHOLE_BYTES allow
      local w = whole[headers]
      if w and w[1] == status and w[2] == str and w[4] == date_str then
        data = w[3]
      else
        data = head_start(status) .. date_str .. "\r\n" .. headers[1] .. "\r\n" .. str
        if whole_bytes + #data <= WHOLE_BYTES then
          whole[headers], whole_bytes = {status, str, data, date_str}, whole_bytes + #data
        end
      end
    else
      data = whole_answer(status, str)
    end
    return send_whole(conn, data)
  end

  -- the general path
  if conn.out then
    local ok, err, code = M.flush(conn)
    if not ok then return nil, err, code end
  end
  local keep = req.keep_alive and not conn.closing
  local extra, clen, ctype, te, cconn, server = "", nil, false, false, nil, false
  if headers then
    if getmetatable(headers) == Prepared then
      extra, clen, ctype, te, cconn, server = headers[1], headers[2] or nil, headers[3],
                                              headers[4], headers[5] or nil, headers[6]
    else
      extra, clen, ctype, te, cconn, server = fields_text(headers)
    end
  end
  if cconn and has_token(cconn, "close") then keep = false end
  local framing, length
  local no_body = NO_BODY[status] or status < 200
  if no_body then
    framing = "none"
    if clen then error("a " .. status .. " response has no Content-Length", 0) end
  elseif streamed then
    if clen then
      length = find(clen, "^%d+$") and tointeger(tonumber(clen))
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
  if not ctype and not no_body and (streamed or str ~= "") then
    extra = extra .. "Content-Type: " .. TEXT .. "\r\n"
  end
  if not keep then
    conn.closing = true
    if not cconn then extra = extra .. "Connection: close\r\n" end
  elseif req.version == "1.0" and not cconn then
    extra = extra .. "Connection: keep-alive\r\n"
  end
  if req.method == "HEAD" or no_body then str = "" end
  local start = server and status_line(status) .. "Date: " or head_start(status)
  if streamed then req.status = status end   -- for send: the writer's status
  local ok, err, code = conn.stream:write(start .. date_str .. "\r\n" .. extra .. "\r\n"
                                          .. (str or ""))
  if not ok then return nil, err, code end
  if req.method == "HEAD" then framing = "none" end
  return framing, length
end
local write_head = M.write_head

-- The body phase: reads and writes wait at most body_timeout each, and
-- the reaper ends the phase request_timeout after it began.
function M.timed(conn)
  if not conn.timed then
    local server = conn.server
    conn.timed = true
    conn.phase_end = server.now + server.opts.request_timeout   -- for the reaper
    conn.sock:settimeout(server.opts.body_timeout)
  end
end

---------------------------------------------------------------- writers

local Writer = {__name = "lunasock.http.writer"}
Writer.__index = Writer
M.Writer = Writer

-- writer:write(piece) -> true, or nil, msg, code. With a Content-Length
-- set, what fits is sent and the bytes past it are refused ("EMSGSIZE"),
-- and the connection closes: sent, they would be read as the start of
-- the next response.
function Writer:write(piece)
  if self.finished then error("write after finish", 2) end
  if piece == nil or piece == "" then return true end
  if type(piece) ~= "string" then
    if type(piece) ~= "number" then  -- never "table: 0x..." in a body
      error("bad argument #1 to 'write' (string expected, got " .. type(piece) .. ")", 2)
    end
    piece = tostring(piece)
  end
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
  local ok, err, code
  if f == "chunked" then
    ok, err, code = self.chunked:write(piece)
  else
    ok, err, code = self.stream:write(piece)
  end
  -- a streamed piece goes out now, not when the response ends
  if ok then ok, err, code = self.stream:flush() end
  return ok, err, code
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

local function new_writer(conn, framing, length)
  local w = setmetatable({conn = conn, stream = conn.stream, framing = framing, sent = 0,
                          left = length, finished = false}, Writer)
  if framing == "chunked" then w.chunked = body.chunked_writer(conn.stream) end
  return w
end

function M.start(conn, req, status, headers)
  M.timed(conn)
  local framing, length, code = write_head(conn, req, status, headers, nil, true)
  if not framing then
    conn.closing = true
    local w = new_writer(conn, "none")
    w.error = {length, code}
    return w
  end
  return new_writer(conn, framing, length)
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
    if type(piece) ~= "string" and type(piece) ~= "number" then
      conn.server:log_error("bad response: a body source returned a " .. type(piece))
      ok, err, code = nil, "a body source returned a " .. type(piece), "EINVAL"
      break
    end
    ok, err, code = w:write(piece)
    if not ok then break end
  end
  if is_file then src:close() end
  if ok then ok, err, code = w:finish() end
  if not ok then conn.closing = true end
  return w.sent, err, code
end

---------------------------------------------------------------- answers

local ERROR_REQ = {keep_alive = false, version = "1.1", method = "GET"}

-- An error answer; the connection closes after it.
function M.error(conn, status, why)
  local text = (REASON[status] or "Error") .. ": " .. (why or "") .. "\n"
  conn.closing = true
  local req = setmetatable({}, {__index = ERROR_REQ})
  write_head(conn, req, status, nil, text)
  return #text
end

local function log_error(conn, msg)
  conn.server:log_error(msg)
end

local INTERNAL = "Internal Server Error\n"

-- (conn.special: the handler streamed, or reading the body failed)
function M.send(conn, req, ok, status, headers, res_body)
  if ok and not conn.special then
    -- write_head's fast path, when it has made this response already
    -- this second: a hit is a string body with a status of FAST (with
    -- prepared fields: the whole answer kept for them)
    local data
    if headers == nil then
      local by_body = cached[status]
      data = by_body and by_body[res_body]
    else
      local w = whole[headers]
      data = w and w[2] == res_body and w[1] == status and w[4] == date_str and w[3]
    end
    if data and req.keep_alive and req.version == "1.1" and req.method ~= "HEAD"
       and not conn.closing and server_of == M.SERVER then
      local framing, err, code = send_whole(conn, data)
      if framing then return status, #res_body end
      conn.closing = true
      return status, nil, err, code
    end
    if FAST[status] and type(res_body) == "string"
       and (headers == nil or getmetatable(headers) == Prepared) then
      local framing, err, code = write_head(conn, req, status, headers, res_body)
      if framing then return status, #res_body end
      conn.closing = true
      return status, nil, err, code
    end
  end
  conn.special = false
  M.timed(conn)
  if not ok then
    log_error(conn, "handler error: " .. tostring(status))
    conn.closing = true
    if rawget(req, "responded") then return 500 end
    status, headers, res_body = 500, nil, INTERNAL
  end
  if rawget(req, "responded") then
    local w = req.writer
    if w and not w.finished then
      if not w:finish() then conn.closing = true end
    end
    if not w or w.framing == "close" then conn.closing = true end
    return req.status, w and w.sent
  end
  local code = rawget(req, "body_error")
  if code then
    if code == "closed" then
      conn.closing = true
      return nil
    end
    status = code == "EMSGSIZE" and 413 or code == "ETIMEDOUT" and 408 or 400
    return status, M.error(conn, status, "reading the request body failed")
  end
  local t = type(status)
  if t == "table" then
    status, headers, res_body = status.status or 200, status.headers, status.body
  elseif t == "string" then
    status, headers, res_body = 200, nil, status
  elseif status == nil then
    log_error(conn, "handler returned no response for " .. req.method .. " " .. req.target)
    status, headers, res_body = 500, nil, INTERNAL
  end
  if math_type(status) == nil or status % 1 ~= 0 or status < 100 or status > 999 then
    log_error(conn, "handler returned an invalid status: " .. tostring(status))
    status, headers, res_body = 500, nil, INTERNAL
  end
  local bt = type(res_body)
  if bt == "number" then     -- as io.write takes one
    res_body, bt = tostring(res_body), "string"
  end
  local is_file = io_type(res_body) == "file"
  if res_body ~= nil and bt ~= "string" and bt ~= "function" and not is_file then
    -- a table or a boolean was sent as an empty 200
    log_error(conn, "bad response: a body of type " .. bt)
    return 500, M.error(conn, 500, "bad response")
  end
  local wok, framing, length = pcall(write_head, conn, req, status, headers,
                                     bt == "string" and res_body or nil,
                                     bt == "function" or is_file)
  if not wok then
    log_error(conn, "bad response: " .. tostring(framing))
    if is_file then res_body:close() end
    return 500, M.error(conn, 500, "bad response")
  end
  if not framing then        -- the write failed: length is its message
    if is_file then res_body:close() end
    conn.closing = true
    return status, nil, length
  end
  if bt == "function" or is_file then
    if framing == "none" then
      if is_file then res_body:close() end
      return status, 0
    end
    return status, send_stream(conn, framing, res_body, length)
  end
  return status, bt == "string" and #res_body or 0
end

return M
