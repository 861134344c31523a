package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
require("common")
local prefix = os.getenv("BENCH_PREFIX")
request = function()
  return wrk.format("GET", prefix .. random_id(), {["Accept"] = "application/fhir+json"})
end
