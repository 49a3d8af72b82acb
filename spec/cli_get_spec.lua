-- bin/lunasock get, driven as a subprocess against `lunasock http --root`
-- and servers this spec runs: streaming to -o FILE, --max-time, --timeout
-- (idle only), the progress line. Each child is bounded by timeout(1).
local core = require "lunasock.core"
local helper = require "helper"

local T = helper.TIMEOUT
local LIMIT = math.floor(T * 4)   -- seconds timeout(1) gives each child

local quote, status_of = helper.quote, helper.exit_status

local function command_line(args)
  return helper.cli_command(args, LIMIT)
end

local dir

local function run(args)
  return helper.cli_run(args, {limit = LIMIT})
end

local sparse = helper.sparse   -- size bytes ending in "tail!"

local function same_files(a, b)
  return os.execute(helper.TOOL .. "cmp -s " .. quote(a) .. " " .. quote(b)) == true
end

-- A file server from this tree: the process and its host:port.
local function http_root(root)
  local proc, host, port = helper.cli_server({"http", "--root", root, "--port", "0"},
                                             {limit = LIMIT})
  return proc, host .. ":" .. port
end

local stop = helper.cli_interrupt

-- A child that answers one GET with a head announcing n bytes and then
-- sends them in pieces of piece bytes every gap seconds (stall: the first
-- piece and then nothing until the client goes). Returns the process (an
-- io.popen handle) and its port.
local function dripper(n, piece, gap, stall)
  local child = helper.run_lua(([[
    local core = require "lunasock.core"
    local loop = require "lunasock.loop"
    local l = assert(core.socket("inet", "stream"))
    assert(l:bind("127.0.0.1", 0)); assert(l:listen())
    print(select(2, l:getsockname())); io.stdout:flush()
    loop.run(function()
      local s = assert(l:accept())
      local head = ""
      while not head:find("\r\n\r\n", 1, true) do head = head .. assert(s:recv(4096)) end
      assert(s:send("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"))
      local sent = 0
      while sent < %d do
        if not s:send(string.rep("x", %d)) then break end  -- the client left
        sent = sent + %d
        if %s then s:recv(1) break end  -- waits for the client to go
        loop.sleep(%f)
      end
      s:close()
    end)
  ]]):format(n, n, piece, piece, tostring(stall == true), gap))
  local port = assert(tonumber(child:read("l")))
  return child, port
end

describe("bin/lunasock get", function()
  local root
  before_each(function()
    dir = helper.tmpdir()
    root = dir .. "/site"
    assert(os.execute("mkdir " .. quote(root)))
  end)
  after_each(function()
    helper.rmdir(dir)
  end)

  it("streams a 100 MB file to -o FILE, whole", function()
    local src = root .. "/big.bin"
    sparse(src, 100 * 1024 * 1024)
    local server, where = http_root(root)
    local status, out, err = run{"get", "-o", dir .. "/copy.bin", where .. "/big.bin"}
    stop(server)
    assert.equal(0, status, err)
    assert.equal("", out)
    assert.equal("", err)   -- stderr is no terminal: no progress line
    assert.equal(core.stat(src).size, core.stat(dir .. "/copy.bin").size)
    assert.is_true(same_files(src, dir .. "/copy.bin"))
    -- nothing else was left next to it
    local names = core.readdir(dir)
    table.sort(names)
    assert.same({"copy.bin", "site"}, names)
  end)

  it("writes into what -o names when it is no regular file, and follows a symlink", function()
    -- the temporary file was renamed onto the target: -o /dev/null (as
    -- root) would have replaced the device, and -o FIFO replaced the FIFO
    helper.write_file(root .. "/hello.txt", "hello\n")
    local server, where = http_root(root)
    local fifo = dir .. "/fifo"
    assert(os.execute("mkfifo " .. quote(fifo)))
    local reader <close> = assert(io.open(fifo, "r+b"))   -- the child's open won't wait
    helper.write_file(dir .. "/target.txt", "old\n")
    assert(os.execute("ln -s target.txt " .. quote(dir .. "/link.txt")))
    local status1, _, err1 = run{"get", "-o", fifo, where .. "/hello.txt"}
    local status2, _, err2 = run{"get", "-o", dir .. "/link.txt", where .. "/hello.txt"}
    stop(server)
    assert.equal(0, status1, err1)
    assert.equal("fifo", core.stat(fifo, false).type)
    assert.equal("hello\n", reader:read(6))
    assert.equal(0, status2, err2)
    assert.equal("link", core.stat(dir .. "/link.txt", false).type)
    assert.equal("hello\n", helper.slurp(dir .. "/target.txt"))
    local names = core.readdir(dir)
    table.sort(names)
    assert.same({"fifo", "link.txt", "site", "target.txt"}, names)   -- no temporary left
  end)

  it("fails with a clear error past --max-time and leaves no file", function()
    sparse(root .. "/huge.bin", 1024 * 1024 * 1024)
    local server, where = http_root(root)
    local status, _, err = run{"get", "--max-time", "0.3", "-o", dir .. "/copy.bin",
                               where .. "/huge.bin"}
    stop(server)
    assert.equal(1, status)
    assert.matches("longer than %-%-max%-time 0.3 s", err)
    assert.is_nil(core.stat(dir .. "/copy.bin"))
    for _, name in ipairs(core.readdir(dir)) do
      assert.is_nil(name:find("lunasock", 1, true), name)
    end
  end)

  it("gives up when no data comes for --timeout seconds", function()
    local child, port = dripper(1000, 10, 0, true)
    local t0 = core.monotime()
    local status, out, err = run{"get", "--timeout", "0.5", "127.0.0.1:" .. port .. "/"}
    child:close()
    assert.equal(1, status)
    assert.equal(string.rep("x", 10), out)
    assert.matches("no data for 0.5 s %(%-%-timeout%)", err)
    assert.is_true(core.monotime() - t0 < T * 2)
  end)

  it("lets --timeout pass a slow transfer that keeps moving; --max-time does not", function()
    local child, port = dripper(1200, 100, 0.1)
    local status, out, err = run{"get", "--timeout", "0.8", "127.0.0.1:" .. port .. "/"}
    child:close()
    assert.equal(0, status, err)
    assert.equal(1200, #out)
    child, port = dripper(1200, 100, 0.1)
    status, out, err = run{"get", "--max-time", "0.5", "127.0.0.1:" .. port .. "/"}
    child:close()
    assert.equal(1, status)
    assert.matches("%-%-max%-time", err)
    assert.is_true(#out < 1200)   -- what came before the limit is written
  end)

  it("draws a progress line on a terminal, and -s hides it", function()
    sparse(root .. "/big.bin", 8 * 1024 * 1024)
    local server, where = http_root(root)
    -- script(1) gives the child a terminal for stdout and stderr
    -- (script itself runs without the sanitizer preload; the lua5.4 it
    -- starts gets it back, as the ASan build of the module needs it)
    local function on_tty(args)
      local preload = os.getenv("LD_PRELOAD")
      local cmd = command_line(args)
      if preload then cmd = "env LD_PRELOAD=" .. quote(preload) .. " " .. cmd end
      local p = assert(io.popen(helper.TOOL .. "script -qec " .. quote(cmd)
                                .. " /dev/null"))
      local out = p:read("a")
      return status_of(p:close()), out
    end
    local status, out = on_tty{"get", "-o", dir .. "/a.bin", where .. "/big.bin"}
    assert.equal(0, status, out)
    assert.matches("100%%%s+8%.0M / 8%.0M", out)
    status, out = on_tty{"get", "-s", "-o", dir .. "/b.bin", where .. "/big.bin"}
    assert.equal(0, status, out)
    assert.is_nil(out:find("%", 1, true))
    stop(server)
    assert.is_true(same_files(root .. "/big.bin", dir .. "/a.bin"))
  end)

  it("refuses bad arguments with status 2 and an unwritable -o with 1", function()
    assert.equal(2, (run{"get", "--max-time", "soon", "127.0.0.1:1/"}))
    assert.equal(2, (run{"get", "--timeout", "-1", "127.0.0.1:1/"}))
    assert.equal(2, (run{"get", "-o", "", "127.0.0.1:1/"}))
    -- a URL that does not parse is a malformed argument too
    for _, bad in ipairs{"", "http://", "ftp://127.0.0.1/", "http://127.0.0.1:99999/"} do
      local st, _, msg = run{"get", bad}
      assert.equal(2, st, bad)
      assert.matches("usage: lunasock get", msg, 1, true)
    end
    local status, _, err = run{"get", "-o", dir .. "/no/such/dir/x", "127.0.0.1:1/"}
    assert.equal(1, status)
    assert.matches("No such file or directory", err)
  end)
end)
