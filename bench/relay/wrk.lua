-- wrk script for `npm run bench` (scripts/bench.mjs; BENCHMARKS.md, "Relay at volume").
--   wrk -s bench/relay/wrk.lua URL -- bindings SITE FIRST PER_THREAD THREADS
--       POST /v1/bindings: thread t sends the bindings of visitors k = FIRST + t + THREADS * i
--       for i < PER_THREAD, each distinct, as the capture module sends them (text/plain JSON,
--       the page's Origin); after its share it repeats its last one (a duplicate, stored once)
--       until bench.mjs, which counts the relay's accepted bindings, stops wrk.
--   wrk -s bench/relay/wrk.lua URL -- webhooks SITE TOKEN KMAX CALL_PREFIX
--       POST /v1/calltouch/SITE: a call-end webhook (form body, as Calltouch sends it) with a
--       call id of its own for a random visitor k < KMAX, all of whom have a binding.
-- Visitor k's ids are a pure function of k, so both modes agree without sharing state.
-- done() prints one line `WRKJSON {...}` with the exact counts and latency percentiles.

local mode, site
local first, per_thread, threads
local token, kmax, call_prefix
local sent, me = 0, 0
local verified = false
local last

local counter = 0
function setup(thread)
    thread:set("tid", counter)
    counter = counter + 1
end

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

-- 19 letters and digits: 14 that look random, then k in base 62 (5 places, unique to 916 M).
local function aid(k)
    local out = {}
    local s = (k * 69069 + 12345) % 2147483648
    for _ = 1, 14 do
        s = (s * 1103515245 + 12345) % 2147483648
        local d = math.floor(s / 65536) % 62
        out[#out + 1] = alphabet:sub(d + 1, d + 1)
    end
    local x = k
    for _ = 1, 5 do
        local d = x % 62
        out[#out + 1] = alphabet:sub(d + 1, d + 1)
        x = (x - d) / 62
    end
    return table.concat(out)
end

-- Calltouch's own ids: sessions count up (9 digits), visitor ids are 19 digits.
local function session(k)
    return string.format("%.0f", 300000000 + k)
end

local function ct_client(k)
    return "22" .. string.format("%017.0f", (k * 7919 + 464647719) % 1e17)
end

local sources = {
    { "yandex", "cpc", "yandex.ru" },
    { "google", "cpc", "www.google.com" },
    { "", "", "" },
    { "vk", "social", "vk.com" },
}

local function binding(k)
    local src = sources[k % #sources + 1]
    local ts = string.format("%.0f", os.time() * 1000 - (k % 86400) * 1000)
    return string.format(
        '{"v":1,"id":"b%08x%08x","site":"%s","session":"%s","ct_client":"%s","aid":"%s",'
            .. '"touch":{"utm_source":"%s","utm_medium":"%s","utm_campaign":"spring","utm_content":"",'
            .. '"utm_term":"","ref":"%s","path":"/landing","ts":%s}}',
        k % 4294967296, (k * 2654435761) % 4294967296, site, session(k), ct_client(k), aid(k),
        src[1], src[2], src[3], ts
    )
end

local function call(k, id)
    return "leadtype=call&id=" .. id .. "&callphase=calldisconnected&timestamp=" .. os.time()
        .. "&status=successful&unique=true&targetcall=target&uniqtargetcall=uniqtarget"
        .. "&callerphone=7916" .. string.format("%07d", k % 10000000)
        .. "&fio=Ivan+Petrov&ip=95.31.18.119&sessionId=" .. session(k) .. "&ctClientId=" .. ct_client(k)
        .. "&siteId=" .. site .. "&utm_source=yandex&utm_content=null&tags_manual=null&attrs=null"
end

function init(args)
    mode, site = args[1], args[2]
    me = tonumber(tid) or 0
    if mode == "bindings" then
        first, per_thread, threads = tonumber(args[3]), tonumber(args[4]), tonumber(args[5])
        wrk.method = "POST"
        wrk.path = "/v1/bindings"
        wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
        wrk.headers["Origin"] = "https://shop.example"
    elseif mode == "webhooks" then
        token, kmax, call_prefix = args[3], tonumber(args[4]), args[5]
        wrk.method = "POST"
        wrk.path = "/v1/calltouch/" .. site .. "?token=" .. token
        wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
        math.randomseed(os.time() + me * 7919)
    else
        error("wrk.lua: first argument must be bindings or webhooks")
    end
end

function request()
    if mode == "bindings" then
        if me == 0 and not verified then
            -- wrk calls thread 0's request() once before the run to check it, and drops what
            -- it returns: that call must not use up a visitor.
            verified = true
            return wrk.format(nil, nil, nil, binding(first))
        end
        if sent < per_thread then
            last = wrk.format(nil, nil, nil, binding(first + me + threads * sent))
            sent = sent + 1
        end
        return last
    end
    sent = sent + 1
    local k = math.random(0, kmax - 1)
    return wrk.format(nil, nil, nil, call(k, call_prefix .. me .. string.format("%08d", sent)))
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,'
            .. '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
        summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
        e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency.max, latency.mean
    ))
end
