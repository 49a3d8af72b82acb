-- luacheck configuration for make lint
std = "lua54"
max_line_length = 100
files["spec"] = {std = "+busted"}
files["bin"] = {allow_defined_top = false}
exclude_files = {"lua_modules"}
