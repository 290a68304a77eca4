-- wrk script: send 16 pipelined GET requests per write (BENCH.md's pipelined run).
init = function(args)
  local r = {}
  for i = 1, 16 do
    r[i] = wrk.format("GET", "/hello")
  end
  req = table.concat(r)
end

request = function()
  return req
end
