-- luacheck configuration for make lint
std = "lua54"
max_line_length = 100
files["spec"] = {std = "+busted"}
files["bin"] = {allow_defined_top = false}
exclude_files = {"lua_modules"}
-- to-be-closed variables that are only there to be closed start with _
ignore = {"211/_.*", "231/_.*"}
