-- lunasock.http.static: files under a directory, for lunasock.http.server
-- (the server's root = DIR option, and `lunasock http --root DIR`).
--
--   http.server{port = 8080, handler = static.handler("/srv/www")}
--
-- Traversal: the path is percent-decoded once and split on "/"; a NUL, a
-- backslash, a ".." segment (however it was encoded: "..", "%2e%2e",
-- ".%2E", an encoded slash "%2f" that makes one) is refused with 403,
-- and names starting with "." are hidden (404) unless opts.dotfiles.
-- Symlinks: the file's real path (every symlink resolved) must lie under
-- the root's real path, or the answer is 404. Lua and libc alone (io.*)
-- cannot resolve a path or stat a file, so this uses core.realpath and
-- core.stat when the core has them, and otherwise one `realpath` + `stat`
-- child process per request (io.popen, coreutils), which is sound but
-- costs a fork; docs/http.md says which C functions remove it. A symlink
-- swapped between the check and the open is not caught (a TOCTOU race
-- that only someone who can write under the root can run).
--
-- Responses: Content-Type from the extension, Last-Modified and
-- If-Modified-Since (304), a single byte Range (206, or 416 when it cannot
-- be satisfied; several ranges get the whole file), index.html for a
-- directory, and an HTML listing when opts.listing is true.
local core = require "lunasock.core"
local parse = require "lunasock.http.parse"

local find, sub, match, gsub, gmatch, format, lower = string.find, string.sub,
  string.match, string.gsub, string.gmatch, string.format, string.lower
local concat, tointeger, tonumber, type, error = table.concat, math.tointeger,
                                                 tonumber, type, error
local io_open, io_popen, os_date = io.open, io.popen, os.date
local unescape = parse.unescape

local M = {}

M.TYPES = {
  html = "text/html; charset=utf-8", htm = "text/html; charset=utf-8",
  css = "text/css; charset=utf-8", js = "text/javascript; charset=utf-8",
  mjs = "text/javascript; charset=utf-8", json = "application/json",
  txt = "text/plain; charset=utf-8", md = "text/markdown; charset=utf-8",
  lua = "text/plain; charset=utf-8", csv = "text/csv; charset=utf-8",
  xml = "application/xml", svg = "image/svg+xml", png = "image/png",
  jpg = "image/jpeg", jpeg = "image/jpeg", gif = "image/gif", webp = "image/webp",
  ico = "image/vnd.microsoft.icon", pdf = "application/pdf", wasm = "application/wasm",
  zip = "application/zip", gz = "application/gzip", tar = "application/x-tar",
  mp4 = "video/mp4", webm = "video/webm", mp3 = "audio/mpeg", ogg = "audio/ogg",
  woff = "font/woff", woff2 = "font/woff2", ttf = "font/ttf",
}
M.DEFAULT_TYPE = "application/octet-stream"

local function shell_quote(s)
  return "'" .. gsub(s, "'", "'\\''") .. "'"
end

-- info(path) -> {real = resolved path, kind = "file"|"dir"|"other",
-- size, mtime}, or nil when it does not exist.
local function info(path)
  if core.realpath and core.stat then
    local real = core.realpath(path)
    if not real then return nil end
    local st = core.stat(real)
    if not st then return nil end
    return {real = real, kind = st.type == "directory" and "dir"
                                or st.type == "file" and "file" or "other",
            size = st.size, mtime = st.mtime}
  end
  local p = io_popen("realpath -e -- " .. shell_quote(path)
                     .. " 2>/dev/null | { IFS= read -r r && printf '%s\\n' \"$r\" &&"
                     .. " stat -L -c '%s %Y %F' -- \"$r\"; } 2>/dev/null")
  if not p then return nil end
  local out = p:read("a")
  p:close()
  local real, size, mtime, kind = match(out, "^([^\n]+)\n(%d+) (%d+) ([^\n]+)\n$")
  if not real then return nil end
  return {real = real, kind = kind == "directory" and "dir"
                              or find(kind, "regular", 1, true) and "file" or "other",
          size = tointeger(tonumber(size)), mtime = tointeger(tonumber(mtime))}
end
M.info = info

local function list_dir(real)
  if core.readdir then return core.readdir(real) end
  local p = io_popen("ls -1A -- " .. shell_quote(real) .. " 2>/dev/null")
  if not p then return {} end
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  return names
end

local function html_escape(s)
  return (gsub(s, "[&<>\"']", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
                                ['"'] = "&quot;", ["'"] = "&#39;"}))
end

local function url_escape(s)
  return (gsub(s, "[^%w%-._~/]", function(c) return format("%%%02X", c:byte()) end))
end

-- Seconds since the epoch for an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
-- GMT"), or nil. Computed directly: os.time would read it as local time.
local MONTHS = {Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7,
                Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12}
function M.parse_date(s)
  local d, mon, y, h, mi, sec = match(s or "",
    "^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  local m = MONTHS[mon]
  if not d or not m then return nil end
  y, m, d = tointeger(tonumber(y)), m, tointeger(tonumber(d))
  -- days from civil (H. Hinnant's algorithm)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

local function http_date(t)
  return os_date("!%a, %d %b %Y %H:%M:%S GMT", t)
end

-- The single range of a Range value for a file of size bytes: first,
-- last; false when it cannot be satisfied; nil to ignore the field.
local function byte_range(value, size)
  local a, b = match(value, "^bytes=[ \t]*(%d*)%-(%d*)[ \t]*$")
  if not a or (a == "" and b == "") or #a > 15 or #b > 15 then return nil end
  local first, last
  if a == "" then
    local n = tointeger(tonumber(b))
    if n == 0 then return false end
    first, last = size - n, size - 1
    if first < 0 then first = 0 end
  else
    first = tointeger(tonumber(a))
    last = b == "" and size - 1 or tointeger(tonumber(b))
    if last < first then return nil end
    if last >= size then last = size - 1 end
  end
  if first >= size or size == 0 then return false end
  return first, last
end
M.byte_range = byte_range

local function text(status, msg, extra)
  local h = {["Content-Type"] = "text/plain; charset=utf-8"}
  if extra then for k, v in pairs(extra) do h[k] = v end end
  return status, h, msg
end

-- static.handler(dir[, opts]) -> handler(req). opts: listing (directory
-- listings, default false), index ("index.html"; false for none),
-- dotfiles (serve names starting with ".", default false), types (extra
-- extension -> Content-Type).
function M.handler(dir, opts)
  if type(dir) ~= "string" or dir == "" then
    error("bad argument #1 to 'handler' (directory expected)", 2)
  end
  opts = opts or {}
  local root = info(dir)
  if not root or root.kind ~= "dir" then
    error("static.handler: not a directory: " .. dir, 2)
  end
  local root_real = root.real
  local prefix = root_real == "/" and "/" or root_real .. "/"
  local index = opts.index
  if index == nil then index = "index.html" end
  local types = opts.types or {}

  local function within(real)
    return real == root_real or sub(real, 1, #prefix) == prefix
  end

  return function(req)
    local method = req.method
    if method ~= "GET" and method ~= "HEAD" then
      return text(405, "Method Not Allowed\n", {Allow = "GET, HEAD"})
    end
    local raw = req.path
    if raw == "*" then return text(404, "Not Found\n") end
    local path = unescape(raw)
    if find(path, "[%z\\]") then return text(403, "Forbidden\n") end
    local segs = {}
    for seg in gmatch(path, "[^/]+") do
      if seg == ".." then return text(403, "Forbidden\n") end
      if seg ~= "." then
        if sub(seg, 1, 1) == "." and not opts.dotfiles then return text(404, "Not Found\n") end
        segs[#segs + 1] = seg
      end
    end
    local rel = concat(segs, "/")
    local fi = info(rel == "" and root_real or prefix .. rel)
    if not fi or not within(fi.real) then return text(404, "Not Found\n") end
    if fi.kind == "dir" then
      if sub(raw, -1) ~= "/" then
        return text(301, "Moved Permanently\n", {Location = url_escape(path) .. "/"})
      end
      local idx = index and info(fi.real .. "/" .. index)
      if idx and idx.kind == "file" and within(idx.real) then
        fi = idx
      elseif opts.listing then
        local names = list_dir(fi.real)
        table.sort(names)
        local out = {"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ",
                     html_escape(path), "</title></head><body><h1>Index of ",
                     html_escape(path), "</h1><ul>\n"}
        if rel ~= "" then out[#out + 1] = "<li><a href=\"../\">../</a></li>\n" end
        for _, name in ipairs(names) do
          if opts.dotfiles or sub(name, 1, 1) ~= "." then
            out[#out + 1] = format("<li><a href=\"%s\">%s</a></li>\n",
                                   html_escape(url_escape(name)), html_escape(name))
          end
        end
        out[#out + 1] = "</ul></body></html>\n"
        return 200, {["Content-Type"] = "text/html; charset=utf-8"}, concat(out)
      else
        return text(404, "Not Found\n")
      end
    end
    if fi.kind ~= "file" then return text(404, "Not Found\n") end

    local ext = lower(match(fi.real, "%.([^./]+)$") or "")
    local headers = {
      ["Content-Type"] = types[ext] or M.TYPES[ext] or M.DEFAULT_TYPE,
      ["Last-Modified"] = http_date(fi.mtime),
      ["Accept-Ranges"] = "bytes",
    }
    local ims = M.parse_date(req.headers["if-modified-since"])
    if ims and fi.mtime <= ims and not req.headers["if-none-match"] then
      headers["Content-Type"] = nil
      return 304, headers
    end
    local size = fi.size
    local status, first, last = 200, 0, size - 1
    local range = req.headers["range"]
    local if_range = req.headers["if-range"]
    if range and (not if_range or if_range == headers["Last-Modified"]) then
      local a, b = byte_range(range, size)
      if a == false then
        return text(416, "Range Not Satisfiable\n", {["Content-Range"] = "bytes */" .. size})
      elseif a then
        status, first, last = 206, a, b
        headers["Content-Range"] = format("bytes %d-%d/%d", a, b, size)
      end
    end
    headers["Content-Length"] = tostring(last - first + 1)
    if method == "HEAD" or last < first then return status, headers, "" end
    local f = io_open(fi.real, "rb")
    if not f then return text(403, "Forbidden\n") end
    if first > 0 then f:seek("set", first) end
    return status, headers, f
  end
end

return M
