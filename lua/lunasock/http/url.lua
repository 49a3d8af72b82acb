-- lunasock.http.url: the URLs the HTTP client accepts, parsed into the
-- parts it needs (RFC 3986, for the http and https schemes).
--
--   url.parse(s) -> u, or nil, msg, code
--       s is a full URL ("http://host:port/path?query#fragment") or an
--       address-bar one ("host[:port]/path?query"), with the port 80 by
--       default (443 for https://). IPv6 literals go in brackets
--       ("[::1]:8080/x", a zone as "[fe80::1%25eth0]"). An address-bar
--       URL is http. u has scheme ("http" or "https"), host (lower case,
--       without brackets), port (an integer), path (starts with "/"),
--       query (the text after "?", or nil), target (path and query, as
--       sent in the request line), user and password (percent-decoded,
--       or nil) and ipv6 (true for a literal). Percent-encoding in the
--       path and query is kept as written; bytes that cannot appear in a
--       request line (spaces, controls, non-ASCII, a "%" not followed by
--       two hex digits) are percent-encoded. The fragment is dropped.
--       Failures: "EINVAL" for a malformed URL, "EPROTONOSUPPORT" for a
--       scheme other than http and https.
--   url.resolve(base, ref) -> u, or nil, msg, code
--       ref (a Location value: absolute, "//host/…", "/path", "?q",
--       "rel/path") resolved against base (a parsed URL or a string), as
--       RFC 3986 section 5.2 does, dot segments removed.
--   url.tostring(u) -> "http://host[:port]/path?query" (no userinfo;
--       port left out when it is the scheme's default)
--   url.authority(u) -> "host[:port]", the Host field's value
--   url.origin(u) -> "host:port", the same for two URLs of one server
--       (the scheme is not part of it: compare u.scheme as well)
--   url.decode(s), url.query(s), url.decode_path(path),
--   url.decode_segment(s): percent-decoding (below), the only copy in
--       lunasock.http
local find, match, sub, lower, format, byte, gsub, char, gmatch =
  string.find, string.match, string.sub, string.lower, string.format,
  string.byte, string.gsub, string.char, string.gmatch
local concat, tointeger, tonumber, type, error = table.concat, math.tointeger,
                                               tonumber, type, error
local setmetatable, getmetatable, pairs, ipairs = setmetatable, getmetatable,
                                                  pairs, ipairs
local core = require "lunasock.core"
local inet_pton = core.inet_pton

local M = {}

M.DEFAULT_PORT = 80          -- of http://; https:// has 443
local DEFAULT_PORTS = {http = 80, https = 443}
M.MAX_URL = 65536            -- bytes; longer URLs are refused

local function bad(msg)
  return nil, msg, "EINVAL"
end

local function unsupported(scheme)
  return nil, "unsupported URL scheme '" .. scheme .. "'", "EPROTONOSUPPORT"
end

local URL = {__name = "lunasock.http.url"}
URL.__index = URL

-- Bytes kept as they are in a path or query: unreserved, sub-delims,
-- ":", "@", "/", "?", "%" (checked separately), and "[" "]" (browsers
-- send them unencoded). Everything else is percent-encoded.
local function encode_byte(c)
  return format("%%%02X", byte(c))
end

local function normalise(s)
  -- a "%" not starting an escape is a literal percent sign
  s = gsub(s, "%%(%x?%x?)", function(hex)
    if #hex == 2 then return nil end
    return "%25" .. hex
  end)
  return (gsub(s, "[^%w%-%._~!$&'()*+,;=:@/?%%%[%]]", encode_byte))
end

local function hexchar(hex)
  return char(tonumber(hex, 16))
end

-- url.decode(s) -> s with every %XX decoded (a "%" not followed by two
-- hex digits is kept). The one percent-decoder of lunasock.http.
local function decode(s)
  if not find(s, "%", 1, true) then return s end
  return (gsub(s, "%%(%x%x)", hexchar))
end
M.decode = decode
M.unescape = decode

-- url.query(s) -> table: "a=1&b=x+y&a=2" -> {a = {"1", "2"}, b = "x y"}.
-- "+" is a space and %XX is decoded, in names and values; a name without
-- "=" gets "". A name given twice gets a list of its values.
function M.query(s)
  local t = {}
  if not s or s == "" then return t end
  for pair in gmatch(s, "[^&;]+") do
    local k, v = match(pair, "^([^=]*)=(.*)$")
    if not k then k, v = pair, "" end
    k = decode((gsub(k, "+", " ")))
    v = decode((gsub(v, "+", " ")))
    local old = t[k]
    if old == nil then
      t[k] = v
    elseif type(old) == "table" then
      old[#old + 1] = v
    else
      t[k] = {old, v}
    end
  end
  return t
end

-- A path byte decoded, except "/" and "%", which stay encoded (as %2F and
-- %25) so that the decoded path still splits into the same segments and
-- is decoded exactly once.
local function path_byte(hex)
  local c = tonumber(hex, 16)
  if c == 0x2F then return "%2F" end
  if c == 0x25 then return "%25" end
  return char(c)
end

-- url.decode_path(path) -> the path with %XX decoded but for %2F and %25
-- (upper-cased): what the router matches and captures on.
function M.decode_path(path)
  if not find(path, "%", 1, true) then return path end
  return (gsub(path, "%%(%x%x)", path_byte))
end

local KEPT = {["%2F"] = "/", ["%25"] = "%"}
-- url.decode_segment(s) -> a segment of a decoded path (decode_path)
-- fully decoded: its %2F and %25 turned into "/" and "%".
function M.decode_segment(s)
  if not find(s, "%", 1, true) then return s end
  return (gsub(s, "%%2[F5]", KEPT))
end

-- s without the spaces, tabs, CRs and LFs around it. Linear (a lazy
-- "(.-)%s*$" rescans the blanks from every position: quadratic).
local function trim(s)
  local i = find(s, "[^ \t\r\n]")
  if not i then return "" end
  return sub(s, i, match(s, "^.*[^ \t\r\n]()", i) - 1)
end

-- host[:port] of an authority, checked. Returns host, port, ipv6.
local function parse_hostport(hp, default_port)
  local host, port, ipv6
  if sub(hp, 1, 1) == "[" then
    local lit, rest = match(hp, "^%[([^%]]*)%](.*)$")
    if not lit then return bad("unterminated IPv6 literal in URL") end
    local addr, zone = match(lit, "^([^%%]*)%%25(.+)$")
    if addr then
      if not find(zone, "^[%w%-%._~]+$") then return bad("bad IPv6 zone in URL") end
      lit = addr .. "%" .. zone
    else
      addr = lit
    end
    if not inet_pton("inet6", addr) then
      return bad("bad IPv6 address in URL: " .. lit)
    end
    host, ipv6 = lower(lit), true
    if rest ~= "" then
      port = match(rest, "^:(%d*)$")
      if not port then return bad("junk after IPv6 literal in URL") end
    end
  else
    host, port = match(hp, "^([^:]*):(%d*)$")
    if not host then
      if find(hp, ":", 1, true) then return bad("bad port in URL") end
      host = hp
    end
    if host == "" then return bad("URL has no host") end
    if not find(host, "^[%w%-%._~]+$") then
      return bad("bad host name in URL: " .. format("%q", host))
    end
    host = lower(host)
  end
  if port == nil or port == "" then
    port = default_port
  else
    port = tointeger(tonumber(port))
    if not port or port < 1 or port > 65535 then
      return bad("port out of range in URL (1-65535)")
    end
  end
  return host, port, ipv6 or false
end

-- path and query from "path?query" (fragment already gone)
local function split_target(pq)
  local path, query = match(pq, "^([^?]*)%?(.*)$")
  if not path then path = pq end
  return path, query
end

local function finish(u)
  u.path = normalise(u.path)
  if u.query then u.query = normalise(u.query) end
  u.target = u.query and (u.path .. "?" .. u.query) or u.path
  return setmetatable(u, URL)
end

function M.parse(s)
  if type(s) ~= "string" then
    error("bad argument #1 to 'parse' (string expected, got " .. type(s) .. ")", 2)
  end
  if #s > M.MAX_URL then return bad("URL too long") end
  s = trim(s)
  if s == "" then return bad("empty URL") end
  if find(s, "[%z\1-\31\127]") then return bad("control character in URL") end
  local scheme, rest = match(s, "^(%a[%w+%-.]*)://(.*)$")
  if scheme then
    scheme = lower(scheme)
    if not DEFAULT_PORTS[scheme] then return unsupported(scheme) end
  elseif sub(s, 1, 2) == "//" then
    rest = sub(s, 3)
  else
    -- address-bar style: host[:port]/path. "http:/x" or "https:x" is a
    -- mistyped URL, not the host "http".
    local typo = match(s, "^(%a[%w+%-.]*):[^%d]") or match(s, "^(%a[%w+%-.]*):$")
    if typo then
      typo = lower(typo)
      if DEFAULT_PORTS[typo] then
        return bad("malformed URL (expected " .. typo .. "://)")
      end
    end
    rest = s
  end
  rest = match(rest, "^([^#]*)")
  local authority, pq = match(rest, "^([^/?]*)(.*)$")
  local user, password
  local at = match(authority, "^.*()@")
  if at then
    local userinfo = sub(authority, 1, at - 1)
    authority = sub(authority, at + 1)
    local u, p = match(userinfo, "^([^:]*):(.*)$")
    if u then
      user, password = decode(u), decode(p)
    else
      user = decode(userinfo)
    end
  end
  scheme = scheme or "http"
  local host, port, ipv6 = parse_hostport(authority, DEFAULT_PORTS[scheme])
  if not host then return nil, port, ipv6 end
  local path, query = split_target(pq)
  if path == "" then path = "/" end
  return finish{scheme = scheme, host = host, port = port, ipv6 = ipv6,
                path = path, query = query, user = user, password = password}
end

-- RFC 3986 section 5.2.4, on a path that starts with "/".
local function remove_dot_segments(path)
  local out, n = {}, 0
  local segs = {}
  for seg in path:gmatch("/([^/]*)") do segs[#segs + 1] = seg end
  for i, seg in ipairs(segs) do
    local last = i == #segs
    if seg == "." or seg == ".." then
      if seg == ".." and n > 0 then
        out[n] = nil
        n = n - 1
      end
      if last then
        n = n + 1
        out[n] = ""
      end
    else
      n = n + 1
      out[n] = seg
    end
  end
  return "/" .. concat(out, "/", 1, n)
end
M.remove_dot_segments = remove_dot_segments

local function copy(u)
  local c = {}
  for k, v in pairs(u) do c[k] = v end
  return c
end

function M.resolve(base, ref)
  if type(base) == "string" then
    local err, code
    base, err, code = M.parse(base)
    if not base then return nil, err, code end
  elseif getmetatable(base) ~= URL then
    error("bad argument #1 to 'resolve' (URL expected)", 2)
  end
  if type(ref) ~= "string" then
    error("bad argument #2 to 'resolve' (string expected, got " .. type(ref) .. ")", 2)
  end
  ref = trim(ref)
  if find(ref, "[%z\1-\31\127]") then return bad("control character in URL") end
  local scheme = match(ref, "^(%a[%w+%-.]*):")
  if scheme then
    if sub(ref, #scheme + 2, #scheme + 3) == "//" then return M.parse(ref) end
    scheme = lower(scheme)
    if not DEFAULT_PORTS[scheme] then return unsupported(scheme) end
    if scheme ~= base.scheme then
      return bad("relative reference with another scheme: " .. ref)
    end
    ref = sub(ref, #scheme + 2)     -- "http:path": relative, RFC 3986 5.2.2
  end
  if sub(ref, 1, 2) == "//" then return M.parse(base.scheme .. ":" .. ref) end
  ref = match(ref, "^([^#]*)")
  local path, query = split_target(ref)
  local u = copy(base)
  if path == "" then
    if query == nil then query = base.query end
    path = base.path
  elseif sub(path, 1, 1) == "/" then
    path = remove_dot_segments(path)
  else
    path = remove_dot_segments(match(base.path, "^(.*/)") .. path)
  end
  u.path, u.query = path, query
  return finish(u)
end

local function hostpart(u)
  if u.ipv6 then return "[" .. gsub(u.host, "%%", "%%25") .. "]" end
  return u.host
end

function M.authority(u)
  if u.port == DEFAULT_PORTS[u.scheme] then return hostpart(u) end
  return hostpart(u) .. ":" .. u.port
end

function M.origin(u)
  return hostpart(u) .. ":" .. u.port
end

function M.tostring(u)
  return u.scheme .. "://" .. M.authority(u) .. u.target
end

URL.__tostring = M.tostring
M.URL = URL

return M
