-- lunasock.http.static: files under a directory, for lunasock.http.server
-- (the server's root = DIR option, and `lunasock http --root DIR`).
--
--   http.server{port = 8080, handler = static.handler("/srv/www")}
--
-- Only lunasock.core's file calls are used (realpath, open, stat,
-- filestamp, readdir): no shell, no child process, nothing that waits on
-- anything but the local disk, so the loop's other tasks never stall
-- behind a request. A file body is handed to the server as the opened
-- Lua file (positioned at its first byte) with a Content-Length, and the
-- server sends it with sock:sendfile; small files go out inline, in the
-- same send as the head. A small file's content and response fields are
-- kept (file_entry): while one stat of its path shows the same file
-- (core.filestamp), a request for it opens nothing.
--
-- Traversal: the path is percent-decoded once and split on "/"; a NUL, a
-- backslash, a ".." segment (however it was encoded: "..", "%2e%2e",
-- ".%2E", an encoded slash "%2f" that makes one) is refused with 403,
-- and names starting with "." are hidden (404) unless opts.dotfiles.
-- Symlinks: the file must lie under the root, every symlink resolved,
-- or the answer is 404: checked by the kernel during the open where
-- openat2 exists (RESOLVE_BENEATH); elsewhere by realpath before it (a
-- symlink swapped between the check and the open is not caught there: a
-- TOCTOU race that only someone who can write under the root can run).
-- Everything after the open (type, size, dates) is read from the opened
-- descriptor.
--
-- Responses: Content-Type from the extension; ETag and Last-Modified, with
-- If-Match, If-Unmodified-Since (412), If-None-Match and If-Modified-Since
-- (304) in RFC 9110's order; a single byte Range (206, or 416 when it
-- cannot be satisfied; several ranges get the whole file) with If-Range;
-- index.html for a directory, and an HTML listing when opts.listing.
local core = require "lunasock.core"
local parse = require "lunasock.http.parse"
local response = require "lunasock.http.response"
local Request = require("lunasock.http.request").Request
local check = require "lunasock.check"

local find, sub, match, gsub, gmatch, format, lower = string.find, string.sub,
  string.match, string.gsub, string.gmatch, string.format, string.lower
local concat, sort, tointeger, tonumber, tostring, type, error, pairs, ipairs,
      rawget, getmetatable = table.concat, table.sort, math.tointeger, tonumber, tostring,
                             type, error, pairs, ipairs, rawget, getmetatable
local os_date, os_time = os.date, os.time
local realpath, open, stat, readdir, filestamp = core.realpath, core.open, core.stat,
                                                 core.readdir, core.filestamp
local unescape, prepare = parse.unescape, response.prepare

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
-- Bodies up to this many bytes are read and sent with the head in one
-- send; larger ones go by sendfile (opts.inline_max overrides).
M.INLINE_MAX = 16384
-- Names a listing shows at most (opts.listing_max overrides).
M.LISTING_MAX = 10000
-- Per handler: checked paths and file entries kept (each), and the bytes
-- of small files' content kept with them.
M.CACHE_ENTRIES = 1024
M.CACHE_BYTES = 4 * 1024 * 1024
-- Seconds a file's mtime and ctime must lie in the past before its
-- content is kept (see file_entry).
M.SETTLE = 2

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
    if b == "" then
      last = size - 1
    else
      last = tointeger(tonumber(b))
      if last < first then return nil end   -- invalid: ignored
      if last >= size then last = size - 1 end
    end
  end
  if first >= size or size == 0 then return false end
  return first, last
end
M.byte_range = byte_range

-- The strong entity tag of a file as stat describes it: inode, size and
-- modification time to the nanosecond, so a rewrite within the same
-- second still changes it.
local function etag(st)
  return format('"%x-%x-%x"', st.ino, st.size, st.mtime * 1000000000 + st.mtime_ns)
end
M.etag = etag

-- Whether an If-Match / If-None-Match list matches tag: "*" matches any
-- current file; weak comparison ignores W/ (If-None-Match), strong
-- comparison (If-Match) never matches a weak tag.
local function tag_matches(list, tag, strong)
  if match(list, "^[ \t]*%*[ \t]*$") then return true end
  for weak, t in gmatch(list, "[ \t]*(W?/?)(\"[^\"]*\")[ \t]*,?") do
    if t == tag and (weak == "" or not strong) then return true end
  end
  return false
end
M.tag_matches = tag_matches

local function text(status, msg, extra)
  local h = {["Content-Type"] = "text/plain; charset=utf-8"}
  if extra then for k, v in pairs(extra) do h[k] = v end end
  return status, h, msg
end

-- RFC 9110 13.2.2: the preconditions of a GET or HEAD, in their order.
-- Returns a status (412 or 304) to answer with, or nil to go on. (The
-- request's headers table holds lower-case names: rawget skips its
-- case-insensitive __index for the fields that are absent.)
local function preconditions(h, tag, mtime)
  local im = rawget(h, "if-match")
  if im then
    if not tag_matches(im, tag, true) then return 412 end
  else
    local ius = M.parse_date(rawget(h, "if-unmodified-since"))
    if ius and mtime > ius then return 412 end
  end
  local inm = rawget(h, "if-none-match")
  if inm then
    if tag_matches(inm, tag, false) then return 304 end
  else
    local ims = M.parse_date(rawget(h, "if-modified-since"))
    if ims and mtime <= ims then return 304 end
  end
  return nil
end

-- The listing of directory real (shown as path): names sorted, each
-- directory with a trailing "/", every name HTML-escaped in the text and
-- percent-encoded, then escaped, in the link.
local function listing(real, path, top, opts)
  local max = opts.listing_max or M.LISTING_MAX
  local names, more = readdir(real, max)
  if not names then return text(404, "Not Found\n") end
  sort(names)
  local out = {"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ",
               html_escape(path), "</title></head><body><h1>Index of ",
               html_escape(path), "</h1><ul>\n"}
  if not top then out[#out + 1] = "<li><a href=\"../\">../</a></li>\n" end
  for _, name in ipairs(names) do
    if opts.dotfiles or sub(name, 1, 1) ~= "." then
      local st = stat(real .. "/" .. name)
      local slash = st and st.type == "directory" and "/" or ""
      out[#out + 1] = format("<li><a href=\"%s%s\">%s%s</a></li>\n",
                             html_escape(url_escape(name)), slash, html_escape(name), slash)
    end
  end
  if more then
    out[#out + 1] = format("<li>(only the first %d entries are shown)</li>\n", max)
  end
  out[#out + 1] = "</ul></body></html>\n"
  return 200, {["Content-Type"] = "text/html; charset=utf-8"}, concat(out)
end

-- Whether req may have a precondition or Range field: a request from
-- lunasock.http.request says so (its conditional field, set or absent);
-- any other table is looked at.
local function conditional(req)
  return rawget(req, "conditional") or getmetatable(req) ~= Request
end

-- The response for file entry e (see file_entry), with f the file
-- opened (or nil when e holds the content, checked current). Returns
-- status, headers, body (a string, or f itself positioned at the first
-- byte to send, which the server sends and closes).
local function respond_file(req, f, e)
  local tag = e.tag
  local h = conditional(req) and req.headers
  local pre = h and preconditions(h, tag, e.mtime)
  if pre then
    if f then f:close() end
    if pre == 412 then return text(412, "Precondition Failed\n") end
    return 304, e.fields_304
  end
  local size = e.size
  local range = h and rawget(h, "range")
  local headers, status, first, last = e.fields, 200, 0, size - 1
  if range then
    -- If-Range: an entity tag compares strongly, a date must be exactly
    -- Last-Modified; anything else sends the whole file
    local ir = rawget(h, "if-range")
    if not ir or ir == tag or ir == e.lastmod then
      local a, b = byte_range(range, size)
      if a == false then
        if f then f:close() end
        return text(416, "Range Not Satisfiable\n", {["Content-Range"] = "bytes */" .. size})
      elseif a then
        status, first, last = 206, a, b
        headers = {["Content-Type"] = e.ctype, ["Last-Modified"] = e.lastmod, ETag = tag,
                   ["Accept-Ranges"] = "bytes", ["Content-Length"] = tostring(b - a + 1),
                   ["Content-Range"] = format("bytes %d-%d/%d", a, b, size)}
      end
    end
  end
  local n = last - first + 1
  if req.method == "HEAD" or n <= 0 then
    if f then f:close() end
    return status, headers, ""
  end
  local data = e.data
  if data then
    if f then f:close() end
    if status == 200 then return status, headers, data end
    return status, headers, sub(data, first + 1, last + 1)
  end
  if n <= e.inline_max then
    if first > 0 then f:seek("set", first) end
    data = f:read(n)
    f:close()
    if not data or #data ~= n then return text(500, "Internal Server Error\n") end
    return status, headers, data
  end
  if first > 0 then f:seek("set", first) end
  return status, headers, f
end

-- The path part of a request target, checked: the relative path under the
-- root ("" for the root itself), or the status refusing it (403, 404).
local function check_path(raw, dotfiles)
  if raw == "*" then return 404 end
  local path = unescape(raw)
  if find(path, "[%z\\]") then return 403 end
  local segs = {}
  for seg in gmatch(path, "[^/]+") do
    if seg == ".." then return 403 end
    if seg ~= "." then
      if sub(seg, 1, 1) == "." and not dotfiles then return 404 end
      segs[#segs + 1] = seg
    end
  end
  return concat(segs, "/")
end

-- The options handler takes (http.server takes them too, with root).
M.OPTIONS = {listing = true, index = true, dotfiles = true, types = true,
             inline_max = true, listing_max = true}

-- static.handler(dir[, opts]) -> handler(req). opts: listing (directory
-- listings, default false), index ("index.html"; false for none),
-- dotfiles (serve names starting with ".", default false), types (extra
-- extension -> Content-Type), inline_max, listing_max.
function M.handler(dir, opts)
  if type(dir) ~= "string" or dir == "" then
    error("bad argument #1 to 'handler' (directory expected)", 2)
  end
  opts = check.known(check.opts(opts, "http.static", 2), "http.static", M.OPTIONS)
  check.opt_integer(opts, "inline_max", "http.static", 0, math.maxinteger)
  check.opt_integer(opts, "listing_max", "http.static", 0, math.maxinteger)
  if opts.types ~= nil and type(opts.types) ~= "table" then
    error("bad option 'types' to 'http.static' (table expected, got " .. type(opts.types) .. ")", 2)
  end
  for ext, ctype in pairs(opts.types or {}) do
    if type(ext) ~= "string" or type(ctype) ~= "string" then
      error("bad option 'types' to 'http.static' (extension -> Content-Type strings expected)", 2)
    end
  end
  check.opt_boolean(opts, "listing", "http.static")
  check.opt_boolean(opts, "dotfiles", "http.static")
  if opts.index ~= nil and opts.index ~= false and type(opts.index) ~= "string" then
    error("bad option 'index' to 'http.static' (file name or false expected, got "
          .. type(opts.index) .. ")", 2)
  end
  local root_real = realpath(dir)
  local root_st = root_real and stat(root_real)
  if not root_st or root_st.type ~= "directory" then
    error("static.handler: not a directory: " .. dir, 2)
  end
  local prefix = root_real == "/" and "/" or root_real .. "/"
  local index = opts.index
  if index == nil then index = "index.html" end
  local types = opts.types or {}
  local inline_max = opts.inline_max or M.INLINE_MAX
  local dotfiles = opts.dotfiles

  -- Where the kernel can resolve a path beneath a directory (Linux's
  -- openat2), the open itself does the symlink check; elsewhere realpath
  -- and a prefix comparison do, before the open. (The root is named by
  -- its path, so the handler holds no descriptor of its own.)
  local beneath = false
  local probe = open(".", root_real)
  if probe then
    probe:close()
    beneath = true
  end

  local function within(real)
    return real == root_real or sub(real, 1, #prefix) == prefix
  end

  local function refused(code)
    if code == "EACCES" then return 403 end
    return 404
  end

  -- The file at rel under the root, opened, with its stamp, type and
  -- size (core.filestamp); or nil and the status to answer (404, or 403
  -- when the file cannot be read).
  local function lookup(rel)
    local f, code, _
    if beneath then
      f, _, code = open(rel == "" and "." or rel, root_real)
    else
      local real = realpath(rel == "" and root_real or prefix .. rel)
      if not real or not within(real) then return nil, 404 end
      f, _, code = open(real)
    end
    if not f then return nil, refused(code) end
    local id, kind, size = filestamp(f)
    if not id then
      f:close()
      return nil, 404
    end
    return f, id, kind, size
  end

  -- Checked request paths (raw target path -> rel or a status) and file
  -- entries (rel -> validators, header fields and, for a small file, its
  -- content), each bounded: when full, it starts again empty.
  local paths, npaths = {}, 0
  -- and, for a request path ending in "/" answered with its directory's
  -- index file, that file's rel (emptied with paths)
  local indexes = {}
  local entries, nentries, cached_bytes = {}, 0, 0

  -- The entry for the file rel opened as f, whose stamp is id: the one
  -- kept, if the file is still the same (device, inode, size, mode,
  -- mtime and ctime to the nanosecond: core.filestamp), else a new one.
  -- A small file's content is kept too once neither time is within
  -- M.SETTLE seconds of now: a rewrite of the same size within the file
  -- system's timestamp granularity would otherwise go unseen (Git's
  -- "racy clean" rule; ctime too, since a tool may set mtime back).
  local function file_entry(rel, id, f)
    local e = entries[rel]
    if not e or e.stamp ~= id then
      local st = stat(f)
      if not st then return nil end
      local ext = lower(match(rel, "%.([^./]+)$") or "")
      local tag, lastmod, ctype = etag(st), http_date(st.mtime),
                                  types[ext] or M.TYPES[ext] or M.DEFAULT_TYPE
      e = {stamp = id, size = st.size, mtime = st.mtime, ctime = st.ctime, tag = tag,
           lastmod = lastmod, ctype = ctype, inline_max = inline_max, path = prefix .. rel,
           fields = prepare{["Content-Type"] = ctype, ["Last-Modified"] = lastmod,
                            ETag = tag, ["Accept-Ranges"] = "bytes",
                            ["Content-Length"] = tostring(st.size)},
           fields_304 = prepare{["Last-Modified"] = lastmod, ETag = tag}}
      if nentries >= M.CACHE_ENTRIES then
        entries, nentries, cached_bytes = {}, 0, 0
      end
      entries[rel], nentries = e, nentries + 1
    end
    local size = e.size
    if not e.data and size <= inline_max and cached_bytes + size <= M.CACHE_BYTES then
      local now = os_time()
      if now - e.mtime >= M.SETTLE and now - e.ctime >= M.SETTLE then
        local data = f:read(size)
        f:seek("set", 0)
        -- kept only if the file is still as it was when stat'ed
        if data and #data == size and filestamp(f) == id then
          e.data = data
          cached_bytes = cached_bytes + size
        end
      end
    end
    return e
  end

  return function(req)
    local method = req.method
    if method ~= "GET" and method ~= "HEAD" then
      return text(405, "Method Not Allowed\n", {Allow = "GET, HEAD"})
    end
    local raw = req.path
    local rel = paths[raw]
    if rel == nil then
      rel = check_path(raw, dotfiles)
      if npaths >= M.CACHE_ENTRIES then paths, npaths, indexes = {}, 0, {} end
      paths[raw], npaths = rel, npaths + 1
    end
    if rel == 403 then return text(403, "Forbidden\n") end
    if rel == 404 then return text(404, "Not Found\n") end
    -- a small file kept whole: one stat by path tells whether it is still
    -- the same file (what the path names now is that very inode, read
    -- through the checked open, so no symlink check is needed again)
    local e = entries[rel] or entries[indexes[raw]]
    if e then
      local data = e.data
      if data and filestamp(e.path) == e.stamp then
        if conditional(req) then return respond_file(req, nil, e) end
        return 200, e.fields, method == "GET" and data or ""
      end
    end
    local f, id, kind = lookup(rel)
    if not f then
      if id == 403 then return text(403, "Forbidden\n") end
      return text(404, "Not Found\n")
    end
    if kind == "directory" then
      f:close()
      if sub(raw, -1) ~= "/" then
        return text(301, "Moved Permanently\n", {Location = url_escape(unescape(raw)) .. "/"})
      end
      local irel = index and (rel == "" and index or rel .. "/" .. index)
      local ifile, iid, ikind
      if irel then ifile, iid, ikind = lookup(irel) end
      if ifile and ikind == "file" then
        indexes[raw] = irel
        f, id, kind, rel = ifile, iid, ikind, irel
      else
        if ifile then ifile:close() end
        if opts.listing then
          return listing(rel == "" and root_real or prefix .. rel, unescape(raw), rel == "", opts)
        end
        return text(404, "Not Found\n")
      end
    end
    if kind ~= "file" then
      f:close()
      return text(404, "Not Found\n")
    end
    e = file_entry(rel, id, f)
    if not e then
      f:close()
      return text(404, "Not Found\n")
    end
    return respond_file(req, f, e)
  end
end

return M
