#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vidpipe channels as a user and an HTTP client see it, without media: --help and its man
# page, bad command lines and configs (exact lines, exit codes), --analyze of a missing file,
# and the server's routes that answer from the config alone (errors as JSON with the right
# status, M3U, XMLTV, HDHomeRun, the API's checks, metrics), SIGHUP with a bad and a good
# config, a port in use, SIGTERM and SIGINT. Playout with media is tests/live/'s.
. "$VP_SRCDIR/tests/cli/lib.sh"

command -v curl >/dev/null || { echo "curl not found: skipped"; exit 77; }

# ---- the command line ---------------------------------------------------------------------
run "$VIDPIPE" channels --help
assert_eq "$RC" 0 "--help: exit code"
assert_contains "$OUT" "Usage: vidpipe channels CONFIG.json [--listen HOST:PORT]" "--help: usage"
page=$(sed 's/\\-/-/g' "$VP_SRCDIR/docs/vidpipe-channels.1")
for opt in $(echo "$OUT" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
    [ "$opt" = "--help" ] && continue
    assert_contains "$page" "$opt" "$opt documented in vidpipe-channels.1"
done
run "$VIDPIPE" --help
assert_contains "$OUT" "  channels " "channels listed in vidpipe --help"

run "$VIDPIPE" channels
assert_eq "$RC|$ERR" "3|vidpipe: channels: no config file (see 'vidpipe channels --help')" \
    "no config"
run "$VIDPIPE" channels a.json b.json
assert_eq "$RC|$ERR" "3|vidpipe: channels: one config file only (see 'vidpipe channels --help')" \
    "two configs"
for bad in foo 127.0.0.1 127.0.0.1:70000 127.0.0.1:x '[::1]8409'; do
    run "$VIDPIPE" channels "$WORK/ch.json" --listen "$bad"
    assert_eq "$RC|$ERR" "3|vidpipe: channels: --listen: '$bad' is not HOST:PORT (port 0..65535)" \
        "--listen $bad"
done
run "$VIDPIPE" channels "$WORK/ch.json" --analyze "$WORK/ep.mp4"
assert_eq "$RC|$ERR" \
    "3|vidpipe: channels: --analyze takes no config (see 'vidpipe channels --help')" \
    "--analyze with a config"
run "$VIDPIPE" channels --analyze "$WORK/missing.mp4"
assert_eq "$RC" 2 "--analyze missing file: exit code"
assert_eq "$(printf '%s\n' "$ERR" | wc -l)" 1 "--analyze missing file: one line"
assert_contains "$ERR" "missing.mp4: " "--analyze missing file: names it"
assert_contains "$ERR" "no such file or directory" "--analyze missing file: says why"
assert_eq "$OUT" "" "--analyze missing file: nothing on stdout"

# ---- bad configs: one line naming the file and the key, exit 2, nothing started -------------
run "$VIDPIPE" channels "$WORK/none.json"
assert_eq "$RC" 2 "missing config: exit code"
assert_eq "$(printf '%s\n' "$ERR" | wc -l)" 1 "missing config: one line"
assert_contains "$ERR" "none.json: " "missing config: names it"
assert_not_contains "$ERR" "listening" "missing config: nothing started"

printf '{"channels": [{"number": "one", "name": "X", "items": [{"file": "ep.mp4"}]}]}\n' \
    >"$WORK/badkey.json"
run "$VIDPIPE" channels "$WORK/badkey.json"
assert_eq "$RC" 2 "bad key: exit code"
assert_eq "$(printf '%s\n' "$ERR" | wc -l)" 1 "bad key: one line"
assert_eq "${ERR%%: *}" "vidpipe" "bad key: the line is vidpipe's"
assert_contains "$ERR" "badkey.json: channels[0].number: " "bad key: file and key"
assert_not_contains "$ERR" "listening" "bad key: nothing started"

printf '{"channels": [\n' >"$WORK/syntax.json"
run "$VIDPIPE" channels "$WORK/syntax.json"
assert_eq "$RC" 2 "JSON syntax: exit code"
assert_eq "$(printf '%s\n' "$ERR" | wc -l)" 1 "JSON syntax: one line"
assert_contains "$ERR" "syntax.json: " "JSON syntax: names the file"

# ---- the server, on a config whose media do not exist (left out at ingest, not a config
# error): every route that answers from the config alone -------------------------------------
good='{"channels": [{"number": 1, "name": "Retro One",
  "items": [{"file": "ep1.mp4", "title": "Episode 1"}], "ads": ["a1.mp4"]}]}'
echo "$good" >"$WORK/ch.json"

# serve LOG [GLOBAL_OPTS]: starts the server on a free port (pid in $srv, base URL in $url), stdout to
# LOG.out and stderr to LOG.err; fails the test if it does not say it listens within 10 s.
serve() {
    log=$1
    shift
    sigint_ok "$VIDPIPE" "$@" channels "$WORK/ch.json" --listen 127.0.0.1:0 --json \
        >"$log.out" 2>"$log.err" &
    srv=$!
    i=0
    while ! grep -q 'listening on http://' "$log.err" && [ $i -lt 100 ] &&
          kill -0 $srv 2>/dev/null
    do
        sleep 0.1
        i=$((i + 1))
    done
    url=$(sed -n 's/^vidpipe: listening on //p' "$log.err" | head -n 1)
    check
    [ -n "$url" ] || fail "server did not start: $(cat "$log.err")"
}

# wait_for TEXT FILE: until FILE holds TEXT, at most 5 s.
wait_for() {
    i=0
    while ! grep -q "$1" "$2" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}

# get PATH [CURL_ARGS...]: sets CODE, BODY and HDRS (the headers, in lower case).
get() {
    path=$1
    shift
    CODE=$(curl -s -m 20 -o "$WORK/body" -D "$WORK/hdrs" -w '%{http_code}' "$@" "$url$path")
    BODY=$(cat "$WORK/body")
    HDRS=$(tr -d '\r' <"$WORK/hdrs" | tr 'A-Z' 'a-z')
}

srv=
trap '[ -n "$srv" ] && kill -9 $srv 2>/dev/null; rm -rf "$WORK"' EXIT
serve "$WORK/s1"
port=${url##*:}

get /nope
assert_eq "$CODE|$BODY" '404|{"error": "/nope: no such route"}' "unknown route"
assert_contains "$HDRS" "content-type: application/json" "unknown route: JSON"
get /api/channels -X POST
assert_eq "$CODE|$BODY" '405|{"error": "/api/channels: method not allowed"}' "wrong method"
assert_contains "$HDRS" "allow: get, head" "wrong method: Allow"
get /api/channels/1/ads
assert_eq "$CODE" 405 "GET of the ads: 405"
assert_contains "$HDRS" "allow: put" "GET of the ads: Allow"
get /api/channels/1/ads -X OPTIONS
assert_eq "$CODE" 204 "CORS preflight"
assert_contains "$HDRS" "access-control-allow-methods: put" "CORS preflight: methods"
get /api/channels/77
assert_eq "$CODE|$BODY" '404|{"error": "no channel 77"}' "unknown channel (API)"
get /iptv/channel/77.ts
assert_eq "$CODE|$BODY" '404|{"error": "no channel 77"}' "unknown channel (stream)"
get /iptv/channel/99999999999999999.m3u8
assert_eq "$CODE" 404 "channel number past int: 404"
get /iptv/channel/1.ts -I
assert_eq "$CODE" 200 "HEAD of a stream"
assert_contains "$HDRS" "content-type: video/mp2t" "HEAD of a stream: type"
assert_contains "$HDRS" "access-control-allow-origin: *" "HEAD of a stream: CORS"

get /api/channels
assert_eq "$CODE" 200 "channel list"
assert_eq "$(echo "$BODY" | jq -r '.channels | map("\(.number) \(.name) \(.stream)") | .[]')" \
    "1 Retro One $url/iptv/channel/1.ts" "channel list: entries"
get /api/channels/1
assert_eq "$(echo "$BODY" | jq -r '"\(.number) \(.name) \(has("now")) \(has("next_break"))"')" \
    "1 Retro One true true" "one channel"
for h in 0 -1 169 abc 1e9; do
    get "/api/channels/1/schedule?hours=$h"
    assert_eq "$CODE|$BODY" \
        "400|{\"error\": \"hours: '$h' is not a number of hours in (0, 168]\"}" \
        "schedule hours=$h"
done
get "/api/channels/1/schedule?hours=2"
assert_eq "$CODE|$(echo "$BODY" | jq -r '.items | type')" "200|array" "schedule: a list"
get /api/channels/1/ads -X PUT -d '{"files": []}'
assert_eq "$CODE|$BODY" '400|{"error": "body: expected a list of files"}' "ads: not a list"
get /api/channels/1/ads -X PUT -d '["a.mp4", 3]'
assert_eq "$CODE|$BODY" '400|{"error": "body[1]: expected a file name"}' "ads: not a name"
get /api/channels/1/ads -X PUT -d '["a.mp4"'
assert_eq "$CODE" 400 "ads: broken JSON"
get /api/channels/77/ads -X PUT -d '["a1.mp4"]'
assert_eq "$CODE|$BODY" '404|{"error": "no channel 77"}' "ads: unknown channel"

get /iptv/channels.m3u
assert_eq "$CODE" 200 "M3U"
assert_eq "$BODY" "#EXTM3U url-tvg=\"$url/iptv/xmltv.xml\" x-tvg-url=\"$url/iptv/xmltv.xml\"
#EXTINF:-1 tvg-id=\"1\" tvg-chno=\"1\" tvg-name=\"Retro One\" group-title=\"vidpipe\",Retro One
$url/iptv/channel/1.ts" "M3U: text"
get /iptv/channels.m3u -H 'Host: tv.example:8409'
assert_contains "$BODY" "http://tv.example:8409/iptv/channel/1.ts" "M3U: URLs from the Host"
get /iptv/channels.m3u -H 'Host: a"b'
assert_contains "$BODY" "$url/iptv/channel/1.ts" "M3U: a Host that is no host is not echoed"

get /iptv/xmltv.xml
assert_eq "$CODE" 200 "XMLTV"
check
echo "$BODY" | python3 -c '
import sys, xml.etree.ElementTree as ET
tv = ET.fromstring(sys.stdin.read())
assert tv.tag == "tv", tv.tag
chans = [(c.get("id"), c.find("display-name").text) for c in tv.findall("channel")]
assert chans == [("1", "Retro One")], chans
for p in tv.findall("programme"):
    assert p.get("channel") == "1" and len(p.get("start")) == 20 and p.find("title") is not None
' || fail "XMLTV: not a valid guide: $BODY"

get /discover.json
assert_eq "$(echo "$BODY" |
             jq -r '"\(.ModelNumber) \(.BaseURL) \(.LineupURL) \(.TunerCount > 0)"')" \
    "HDTC-2US $url $url/lineup.json true" "discover.json"
check
echo "$BODY" | jq -e '.DeviceID | test("^[0-9A-F]{8}$")' >/dev/null || fail "DeviceID: $BODY"
id1=$(echo "$BODY" | jq -r .DeviceID)
get /device.xml
check
echo "$BODY" | python3 -c '
import sys, xml.etree.ElementTree as ET
ns = {"u": "urn:schemas-upnp-org:device-1-0"}
root = ET.fromstring(sys.stdin.read())
print(root.find("u:URLBase", ns).text, root.find("u:device/u:serialNumber", ns).text)
' >"$WORK/dev" || fail "device.xml: not XML: $BODY"
assert_eq "$(cat "$WORK/dev")" "$url $id1" "device.xml: base and serial"
get /lineup.json
ts="$url/iptv/channel/1.ts"
assert_eq "$BODY" "[{\"GuideNumber\": \"1\", \"GuideName\": \"Retro One\", \"URL\": \"$ts\"}]" \
    "lineup.json"
get /lineup_status.json
assert_eq "$BODY" \
    '{"ScanInProgress": 0, "ScanPossible": 1, "Source": "Cable", "SourceList": ["Cable"]}' \
    "lineup_status.json"
get /metrics
assert_eq "$CODE" 200 "metrics"
assert_contains "$BODY" 'vidpipe_channel_viewers{channel="1",name="Retro One"} 0' "metrics: viewers"
assert_contains "$BODY" '# TYPE vidpipe_channel_viewers_dropped_total counter' "metrics: dropped"

# SIGHUP: a bad config is reported and the running one kept; a good one is taken.
echo '{"channels": [{"number": 0}]}' >"$WORK/ch.json"
kill -HUP $srv
wait_for 'config not reloaded' "$WORK/s1.err"
reload_line=$(grep 'config not reloaded' "$WORK/s1.err")
assert_contains "$reload_line" "vidpipe: config not reloaded, the running one is kept: " \
    "SIGHUP, bad config: said"
assert_contains "$reload_line" "ch.json: channels[0]" "SIGHUP, bad config: file and key"
get /api/channels/1
assert_eq "$CODE" 200 "SIGHUP, bad config: still serving channel 1"
echo "$good" | sed 's/Retro One/Retro Two/' >"$WORK/ch.json"
kill -HUP $srv
wait_for 'config reloaded' "$WORK/s1.err"
assert_contains "$(cat "$WORK/s1.err")" "vidpipe: config reloaded" "SIGHUP, good config"
get /api/channels/1
assert_eq "$(echo "$BODY" | jq -r .name)" "Retro Two" "SIGHUP, good config: taken"

# A port in use: exit 4, said in the last line (ingest, already started, may have logged
# what it found before).
run "$VIDPIPE" channels "$WORK/ch.json" --listen "127.0.0.1:$port"
assert_eq "$RC|$(printf '%s\n' "$ERR" | tail -n 1)" \
    "4|vidpipe: channels: cannot listen on 127.0.0.1:$port: Address already in use" "port in use"

# SIGTERM: exit 0, said once; --json printed the events on stdout.
kill -TERM $srv
wait $srv
assert_eq "$?" 0 "SIGTERM: exit code"
assert_contains "$(cat "$WORK/s1.err")" "vidpipe: stopping (SIGTERM)" "SIGTERM: said"
assert_eq "$(head -n 1 "$WORK/s1.out")" "{\"url\":\"$url\",\"event\":\"listening\"}" \
    "--json: the listening event"
assert_eq "$(jq -r .event "$WORK/s1.out" | tr '\n' ' ')" \
    "listening reload_failed reloaded stopping " "--json: the events"

# SIGINT stops the same way; the same config keeps its HDHomeRun device ID; -v logs every
# request.
serve "$WORK/s2" -v
get /discover.json
assert_eq "$(echo "$BODY" | jq -r .DeviceID)" "$id1" "DeviceID stable across runs"
assert_contains "$(cat "$WORK/s2.err")" "vidpipe: GET /discover.json from 127.0.0.1:" "-v: requests"
kill -INT $srv
wait $srv
assert_eq "$?" 0 "SIGINT: exit code"
assert_contains "$(cat "$WORK/s2.err")" "vidpipe: stopping (SIGINT)" "SIGINT: said"

finish
