-- lunasock.http.static: validators and conditional requests, ranges and
-- large files through sendfile, listings, and a slow download that never
-- holds up other clients. (The basic serving and traversal specs are in
-- http_server_spec.lua.) Server and clients are tasks of one loop run.
local helper = require "helper"
local core = require "lunasock.core"
local loop = require "lunasock.loop"
local body = require "lunasock.http.body"
local static = require "lunasock.http.static"

local with_server, connect = helper.with_http_server, helper.http_connect

-- Reads one response head: status, headers (lower-case names).
local function read_head(st)
  local status, headers = helper.read_head(st)
  assert(type(headers) == "table", "no response head: " .. tostring(headers))
  return status, headers
end

-- One request on a new connection: status, headers, body (nil for HEAD,
-- 304 and 412 without a length).
local function fetch(srv, path, extra, method)
  local _s <close>, st = connect(srv)
  assert(st:write((method or "GET") .. " " .. path .. " HTTP/1.1\r\nHost: x\r\n"
                  .. (extra or "") .. "\r\n"))
  local status, h = read_head(st)
  local b
  if method ~= "HEAD" and status ~= 304 and h["content-length"] then
    b = assert(body.readall(body.fixed(st, tonumber(h["content-length"]))))
  end
  return status, h, b
end

local write, numbered = helper.write_file, helper.numbered

describe("lunasock.http.static", function()
  local dir, big
  local BIG = 3 * 1024 * 1024 + 5
  setup(function()
    dir = helper.tmpdir()
    big = numbered(BIG)
    write(dir .. "/big.bin", big)
    write(dir .. "/a.txt", "0123456789")
    -- a sparse 64 MB file ending in "tail!"
    local f = assert(io.open(dir .. "/huge.bin", "wb"))
    f:seek("set", 64 * 1024 * 1024 - 5)
    f:write("tail!")
    f:close()
  end)
  teardown(function()
    helper.rmdir(dir)
  end)

  -- {index = 5} or {listing = "yes"} were taken and failed (or meant
  -- true) on the first request
  it("raises at once for an option of the wrong type or name, naming it", function()
    for _, case in ipairs{{{index = 5}, "index"}, {{listing = "yes"}, "listing"},
                          {{dotfiles = 1}, "dotfiles"}, {{types = {txt = 5}}, "types"},
                          {{inline_max = -1}, "inline_max"},
                          {{listing_max = 0.5}, "listing_max"}} do
      local ok, err = pcall(static.handler, dir, case[1])
      assert.is_false(ok, case[2])
      assert.matches("bad option '" .. case[2] .. "' to 'http.static'", err, 1, true)
    end
    local ok, err = pcall(static.handler, dir, {listings = true})
    assert.is_false(ok)
    assert.matches("unknown option 'listings' to 'http.static'", err, 1, true)
    assert.is_function(static.handler(dir, {index = false, listing = true, dotfiles = false,
                                            types = {md = "text/markdown"}}))
  end)

  describe("validators", function()
    it("sends a strong ETag made of inode, size and mtime in ns", function()
      with_server({root = dir}, function(srv)
        local status, h = fetch(srv, "/a.txt")
        assert.equal(200, status)
        local st = core.stat(dir .. "/a.txt")
        assert.equal(static.etag(st), h.etag)
        assert.matches('^"%x+%-a%-%x+"$', h.etag)
        assert.matches("GMT$", h["last-modified"])
      end)
    end)

    it("answers 304 to a matching If-None-Match, with the validators", function()
      with_server({root = dir}, function(srv)
        local _, h = fetch(srv, "/a.txt")
        local tag = h.etag
        for _, inm in ipairs{tag, "W/" .. tag, '"x", ' .. tag, "*"} do
          local status, h2, b = fetch(srv, "/a.txt", "If-None-Match: " .. inm .. "\r\n")
          assert.equal(304, status, inm)
          assert.equal(tag, h2.etag)
          assert.equal(h["last-modified"], h2["last-modified"])
          assert.is_nil(h2["content-length"])
          assert.is_nil(b)
        end
        assert.equal(200, (fetch(srv, "/a.txt", 'If-None-Match: "other"\r\n')))
      end)
    end)

    it("lets If-None-Match win over If-Modified-Since (RFC 9110 13.2.2)", function()
      with_server({root = dir}, function(srv)
        local _, h = fetch(srv, "/a.txt")
        local ims = "If-Modified-Since: " .. h["last-modified"] .. "\r\n"
        assert.equal(304, (fetch(srv, "/a.txt", ims)))
        local status, _, b = fetch(srv, "/a.txt", ims .. 'If-None-Match: "stale"\r\n')
        assert.equal(200, status)
        assert.equal("0123456789", b)
      end)
    end)

    it("answers 412 to a failed If-Match or If-Unmodified-Since", function()
      with_server({root = dir}, function(srv)
        local _, h = fetch(srv, "/a.txt")
        assert.equal(412, (fetch(srv, "/a.txt", 'If-Match: "stale"\r\n')))
        assert.equal(412, (fetch(srv, "/a.txt", "If-Match: W/" .. h.etag .. "\r\n")))
        assert.equal(200, (fetch(srv, "/a.txt", "If-Match: " .. h.etag .. "\r\n")))
        assert.equal(412, (fetch(srv, "/a.txt",
                                 "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n")))
      end)
    end)

    it("changes the ETag when the file changes within the same second", function()
      write(dir .. "/c.txt", "one")
      local st1 = core.stat(dir .. "/c.txt")
      write(dir .. "/c.txt", "two")
      -- same size; the mtime differs at least in its nanoseconds, unless
      -- the file system's clock did not move (then force a second)
      local st2 = core.stat(dir .. "/c.txt")
      if st2.mtime == st1.mtime and st2.mtime_ns == st1.mtime_ns then
        assert(os.execute("touch -d @" .. (st1.mtime + 1) .. " " .. dir .. "/c.txt"))
        st2 = core.stat(dir .. "/c.txt")
      end
      assert.is_not.equal(static.etag(st1), static.etag(st2))
    end)
  end)

  it("serves a changed file's new content and validators", function()
    local path = dir .. "/changing.txt"
    local past = os.time() - 100
    write(path, "first")
    assert(os.execute(("touch -d @%d %s"):format(past, path)))
    with_server({root = dir}, function(srv)
      local _, h1, b1 = fetch(srv, "/changing.txt")
      assert.equal("first", b1)
      assert.equal("first", select(3, fetch(srv, "/changing.txt")))  -- kept
      write(path, "later")   -- same size, new time
      assert(os.execute(("touch -d @%d %s"):format(past + 50, path)))
      local _, h2, b2 = fetch(srv, "/changing.txt")
      assert.equal("later", b2)
      assert.is_not.equal(h1.etag, h2.etag)
      assert.is_not.equal(h1["last-modified"], h2["last-modified"])
      write(path, "now fresh")  -- just written: read from the file each time
      assert.equal("now fresh", select(3, fetch(srv, "/changing.txt")))
      write(path, "now FRESH")
      assert.equal("now FRESH", select(3, fetch(srv, "/changing.txt")))
    end)
  end)

  describe("ranges and large files", function()
    it("serves a range of a large file through sendfile", function()
      with_server({root = dir}, function(srv)
        local status, h, b = fetch(srv, "/big.bin", "Range: bytes=1000000-2999999\r\n")
        assert.equal(206, status)
        assert.equal("bytes 1000000-2999999/" .. BIG, h["content-range"])
        assert.equal("2000000", h["content-length"])
        assert.is_true(b == big:sub(1000001, 3000000))
        status, h, b = fetch(srv, "/big.bin", "Range: bytes=-20\r\n")
        assert.equal(206, status)
        assert.equal("20", h["content-length"])
        assert.equal(big:sub(-20), b)
      end)
    end)

    it("honours If-Range with the ETag and sends the whole file otherwise", function()
      with_server({root = dir}, function(srv)
        local _, h = fetch(srv, "/a.txt")
        local status, _, b = fetch(srv, "/a.txt", "Range: bytes=2-4\r\nIf-Range: "
                                                  .. h.etag .. "\r\n")
        assert.equal(206, status)
        assert.equal("234", b)
        status, _, b = fetch(srv, "/a.txt", 'Range: bytes=2-4\r\nIf-Range: "old"\r\n')
        assert.equal(200, status)
        assert.equal("0123456789", b)
      end)
    end)

    it("reads a Range as RFC 9110 does: past the end is 416, last < first is ignored",
       function()
      assert.is_false(static.byte_range("bytes=20-", 10))
      assert.is_false(static.byte_range("bytes=10-12", 10))
      assert.is_nil(static.byte_range("bytes=5-2", 10))
      assert.same({2, 9}, {static.byte_range("bytes=2-", 10)})
      assert.same({7, 9}, {static.byte_range("bytes=-3", 10)})
      assert.same({8, 9}, {static.byte_range("bytes=8-100", 10)})
    end)

    it("serves a large file whole, and HEAD with its length only", function()
      with_server({root = dir}, function(srv)
        local status, h, b = fetch(srv, "/big.bin")
        assert.equal(200, status)
        assert.equal(tostring(BIG), h["content-length"])
        assert.equal("application/octet-stream", h["content-type"])
        assert.is_true(b == big)
        status, h, b = fetch(srv, "/big.bin", nil, "HEAD")
        assert.equal(200, status)
        assert.equal(tostring(BIG), h["content-length"])
        assert.is_nil(b)
      end)
    end)

    it("keeps serving other clients while one download is slow", function()
      with_server({root = dir}, function(srv)
        -- the slow client asks for 64 MB and reads only the head for now
        local _slow <close>, slow = connect(srv)
        assert(slow:write("GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n"))
        local status, h = read_head(slow)
        assert.equal(200, status)
        assert.equal(tostring(64 * 1024 * 1024), h["content-length"])
        -- fifty clients, each fetching a few files, all while the server's
        -- task for the slow one waits in sendfile
        local tasks = {}
        for i = 1, 50 do
          tasks[i] = loop.spawn(function()
            local _s <close>, st = connect(srv)
            for _ = 1, 3 do
              assert(st:write("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"))
              local code, hh = read_head(st)
              assert(code == 200 and hh["content-length"] == "10")
              assert(st:read(10) == "0123456789")
            end
            return true
          end)
        end
        for i = 1, 50 do assert.is_true(tasks[i]:join()) end
        -- the slow download is not finished (the socket buffers cannot
        -- hold 64 MB), and now completes whole
        local total, tail = 0, ""
        while total < 64 * 1024 * 1024 do
          local data = assert(slow:read())
          total = total + #data
          tail = (tail .. data):sub(-5)
        end
        assert.equal(64 * 1024 * 1024, total)
        assert.equal("tail!", tail)
      end)
    end)

    it("closes the connection when a file body is shorter than its Content-Length", function()
      local path = dir .. "/short.bin"
      write(path, string.rep("x", 100000))
      local function handler()
        local f = assert(core.open(path))
        return 200, {["Content-Length"] = "200000"}, f
      end
      with_server({handler = handler}, function(srv)
        local _s <close>, st = connect(srv)
        assert(st:write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        local status = read_head(st)
        assert.equal(200, status)
        local got = {}
        while true do
          local data = st:read()
          if not data then break end
          got[#got + 1] = data
        end
        assert.equal(100000, #table.concat(got))
      end)
    end)
  end)

  -- Small files' content is kept once their times are M.SETTLE seconds
  -- old; with SETTLE = 0 a file is kept from its first request on, so
  -- these run against kept content (each request checks it with a stat).
  describe("kept content", function()
    local settle
    before_each(function()
      settle = static.SETTLE
      static.SETTLE = 0
    end)
    after_each(function()
      static.SETTLE = settle
    end)

    it("serves a file replaced between two requests in the same second with the same size",
       function()
      local path = dir .. "/swap.txt"
      write(path, "AAAA")
      with_server({root = dir}, function(srv)
        local _, h1, b1 = fetch(srv, "/swap.txt")
        assert.equal("AAAA", b1)
        assert.equal("AAAA", select(3, fetch(srv, "/swap.txt")))
        write(dir .. "/swap.tmp", "BBBB")
        assert(os.rename(dir .. "/swap.tmp", path))
        local _, h2, b2 = fetch(srv, "/swap.txt")
        assert.equal("BBBB", b2)
        assert.is_not.equal(h1.etag, h2.etag)
      end)
    end)

    it("answers conditionals, ranges and HEAD from kept content as from the file", function()
      write(dir .. "/kept.txt", "0123456789")
      with_server({root = dir}, function(srv)
        local _, h = fetch(srv, "/kept.txt")
        local tag = h.etag
        for _ = 1, 2 do
          local status, h2, b = fetch(srv, "/kept.txt")
          assert.equal(200, status)
          assert.equal("0123456789", b)
          assert.equal(tag, h2.etag)
          assert.equal("10", h2["content-length"])
          assert.equal("text/plain; charset=utf-8", h2["content-type"])
          assert.equal("bytes", h2["accept-ranges"])
          assert.equal(304, (fetch(srv, "/kept.txt", "If-None-Match: " .. tag .. "\r\n")))
          assert.equal(412, (fetch(srv, "/kept.txt", 'If-Match: "stale"\r\n')))
          status, h2, b = fetch(srv, "/kept.txt", "Range: bytes=2-4\r\n")
          assert.equal(206, status)
          assert.equal("234", b)
          assert.equal("bytes 2-4/10", h2["content-range"])
          status, _, b = fetch(srv, "/kept.txt", 'Range: bytes=2-4\r\nIf-Range: "old"\r\n')
          assert.equal(200, status)
          assert.equal("0123456789", b)
          assert.equal(416, (fetch(srv, "/kept.txt", "Range: bytes=20-\r\n")))
          status, h2, b = fetch(srv, "/kept.txt", nil, "HEAD")
          assert.equal(200, status)
          assert.equal("10", h2["content-length"])
          assert.is_nil(b)
        end
      end)
    end)

    it("answers 404 once a kept file is gone, and 301 once it is a directory", function()
      write(dir .. "/gone.txt", "here")
      with_server({root = dir}, function(srv)
        assert.equal("here", select(3, fetch(srv, "/gone.txt")))
        assert.equal("here", select(3, fetch(srv, "/gone.txt")))
        assert(os.remove(dir .. "/gone.txt"))
        assert.equal(404, (fetch(srv, "/gone.txt")))
        assert(os.execute("mkdir " .. dir .. "/gone.txt"))
        assert.equal(301, (fetch(srv, "/gone.txt")))
        assert(os.execute("rmdir " .. dir .. "/gone.txt"))
      end)
    end)

    it("serves a directory's kept index.html, and the listing once it is gone", function()
      assert(os.execute("mkdir " .. dir .. "/site"))
      write(dir .. "/site/index.html", "<p>home</p>")
      write(dir .. "/site/other.txt", "x")
      with_server({root = dir, listing = true}, function(srv)
        for _ = 1, 2 do
          local status, h, b = fetch(srv, "/site/")
          assert.equal(200, status)
          assert.equal("<p>home</p>", b)
          assert.equal("text/html; charset=utf-8", h["content-type"])
        end
        assert.equal(301, (fetch(srv, "/site")))
        assert(os.remove(dir .. "/site/index.html"))
        local status, _, b = fetch(srv, "/site/")
        assert.equal(200, status)
        assert.truthy(b:find('href="other.txt"', 1, true))
      end)
      helper.rmdir(dir .. "/site")
    end)

    it("refuses a kept path whose symlink now leads out of the root", function()
      local outside = helper.tmpdir()
      write(outside .. "/secret.txt", "SECRET!")
      write(dir .. "/inner.txt", "inside!")
      assert(os.execute(("ln -s inner.txt %s/link.txt"):format(dir)))
      with_server({root = dir}, function(srv)
        assert.equal("inside!", select(3, fetch(srv, "/link.txt")))
        assert.equal("inside!", select(3, fetch(srv, "/link.txt")))
        assert(os.remove(dir .. "/link.txt"))
        assert(os.execute(("ln -s %s/secret.txt %s/link.txt"):format(outside, dir)))
        local status, _, b = fetch(srv, "/link.txt")
        assert.equal(404, status)
        assert.is_nil((b or ""):find("SECRET", 1, true))
      end)
      os.remove(dir .. "/link.txt")
      helper.rmdir(outside)
    end)
  end)

  it("serves a file rewritten in place with its time set back (not kept while fresh)",
     function()
    local path = dir .. "/inplace.txt"
    write(path, "one")
    local st = core.stat(path)
    with_server({root = dir}, function(srv)
      assert.equal("one", select(3, fetch(srv, "/inplace.txt")))
      assert.equal("one", select(3, fetch(srv, "/inplace.txt")))
      -- same size, same inode, and the same mtime to the nanosecond
      local f = assert(io.open(path, "r+b"))
      f:write("two")
      f:close()
      assert(os.execute(("touch -d @%d.%09d %s"):format(st.mtime, st.mtime_ns, path)))
      assert.equal("two", select(3, fetch(srv, "/inplace.txt")))
    end)
  end)

  describe("listings", function()
    it("escapes names and marks directories", function()
      local d = helper.tmpdir()
      write(d .. "/<b>&\"'.txt", "")
      write(d .. "/plain.txt", "")
      assert(os.execute("mkdir " .. d .. "/sub"))
      with_server({root = d, listing = true, index = false}, function(srv)
        local status, h, b = fetch(srv, "/")
        assert.equal(200, status)
        assert.equal("text/html; charset=utf-8", h["content-type"])
        assert.is_nil(b:find("<b>", 1, true))
        assert.truthy(b:find("&lt;b&gt;&amp;&quot;&#39;.txt", 1, true))
        assert.truthy(b:find('href="%3Cb%3E%26%22%27.txt"', 1, true))
        assert.truthy(b:find('href="sub/">sub/</a>', 1, true))
        assert.truthy(b:find('href="plain.txt"', 1, true))
      end)
      helper.rmdir(d)
    end)

    it("shows at most listing_max names", function()
      local d = helper.tmpdir()
      for i = 1, 20 do write(d .. "/f" .. i, "") end
      with_server({root = d, listing = true, index = false, listing_max = 5}, function(srv)
        local _, _, b = fetch(srv, "/")
        local n = select(2, b:gsub('<li><a href="f', ""))
        assert.equal(5, n)
        assert.truthy(b:find("only the first 5", 1, true))
      end)
      helper.rmdir(d)
    end)
  end)

  it("answers 404 with a text body for a missing file and for a FIFO (no wait)", function()
    assert(os.execute("mkfifo " .. dir .. "/pipe"))
    with_server({root = dir}, function(srv)
      for _, path in ipairs{"/missing", "/pipe"} do
        local status, h, b = fetch(srv, path)
        assert.equal(404, status)
        assert.equal("text/plain; charset=utf-8", h["content-type"])
        assert.equal("Not Found\n", b)
      end
    end)
  end)

  it("starts no child process (no io.popen, no shell)", function()
    local f = assert(io.open("lua/lunasock/http/static.lua"))
    local src = f:read("a")
    f:close()
    assert.is_nil(src:find("popen", 1, true))
    assert.is_nil(src:find("os.execute", 1, true))
  end)
end)
