package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
require("common")
local handle = io.open(os.getenv("BENCH_BODY"))
local body = handle:read("*a")
handle:close()
request = function()
  return wrk.format("POST", "/fhir/Patient", {["Content-Type"] = "application/fhir+json",
                                              ["Prefer"] = "return=minimal"}, body)
end
