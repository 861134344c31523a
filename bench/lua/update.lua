package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
require("common")
local handle = io.open(os.getenv("BENCH_BODY"))
local template = handle:read("*a")
handle:close()
request = function()
  local id = random_id()
  local body = string.gsub(template, "__ID__", id)
  return wrk.format("PUT", "/fhir/Patient/" .. id, {["Content-Type"] = "application/fhir+json",
                                                   ["Prefer"] = "return=minimal"}, body)
end
