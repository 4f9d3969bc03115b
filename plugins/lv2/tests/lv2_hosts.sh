#!/usr/bin/env bash
# The ssmkit LV2 plugin under real LV2 hosts from Debian (CTest lv2.*, label audio):
#   lv2_hosts.sh metadata  BUNDLE_DIR            lv2ls / lv2info list both plugins; sord_validate
#                                                (lv2_validate) finds no error, and does find one in
#                                                a deliberately broken copy
#   lv2_hosts.sh lv2file   FIXTURES CLI TOOL         lv2file renders every preset of the fixture bundle;
#                                                the WAV equals `ssmkit run --mode stream` (<= 1e-6)
#   lv2_hosts.sh jalv      FIXTURES              jalv under a private JACK dummy server: presets
#                                                swapped while audio runs; no xrun, no crash
# LV2_PATH must name the build's lv2/ folder and FIXTURES/lv2 (CTest sets it).
set -euo pipefail
what=$1
shift
fail() { echo "FAIL: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || fail "$1 not found (Debian: $2; .ci/deps.sh installs it)"; }

case "$what" in
metadata)
  bundle=$1
  need lv2ls lilv-utils; need lv2info lilv-utils; need sord_validate sordi
  plugins=$(lv2ls)
  for uri in urn:ssmkit:lv2:mono urn:ssmkit:lv2:stereo; do
    grep -qx "$uri" <<<"$plugins" || fail "lv2ls does not list $uri (got: $plugins)"
    info=$(lv2info "$uri" 2>&1)
    for needle in "Has latency:       yes, reported by port 3" "Symbol:      wet" "Symbol:      latency" \
                  "http://lv2plug.in/ns/ext/worker#interface" "http://lv2plug.in/ns/ext/state#interface" \
                  "Required Features: http://lv2plug.in/ns/ext/urid#map"; do
      grep -qF "$needle" <<<"$info" || fail "lv2info $uri lacks '$needle':"$'\n'"$info"
    done
    grep -q "lilv_\|error" <<<"$info" && fail "lv2info $uri reports problems:"$'\n'"$info"
  done
  audio_mono=$(lv2info urn:ssmkit:lv2:mono | grep -c "lv2core#AudioPort")
  audio_stereo=$(lv2info urn:ssmkit:lv2:stereo | grep -c "lv2core#AudioPort")
  [ "$audio_mono" = 2 ] && [ "$audio_stereo" = 4 ] || fail "audio ports: mono $audio_mono, stereo $audio_stereo"
  # sord_validate against the installed LV2 specifications (Debian's lv2_validate wrapper).
  out=$(lv2_validate "$bundle"/*.ttl 2>&1) || fail "lv2_validate failed:"$'\n'"$out"
  grep -q "Found 0 errors" <<<"$out" || fail "lv2_validate:"$'\n'"$out"
  grep -qi "warn" <<<"$out" && fail "lv2_validate warns:"$'\n'"$out"
  # The validator does catch a broken description (an index that is not an integer).
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  sed 's/lv2:index 2 ;/lv2:index "two" ;/' "$bundle/ssmkit.ttl" >"$tmp/ssmkit.ttl"
  cp "$bundle/manifest.ttl" "$tmp/"
  if bad=$(lv2_validate "$tmp"/*.ttl 2>&1) && grep -q "Found 0 errors" <<<"$bad"; then
    fail "lv2_validate accepted a broken ssmkit.ttl:"$'\n'"$bad"
  fi
  echo "metadata: lv2ls/lv2info list both plugins; $(grep -o 'Found [0-9]* errors[^)]*)' <<<"$out")"
  ;;

lv2file)
  fixtures=$1 cli=$2 tool=$3
  need lv2file lv2file
  n=0
  while read -r label plugin input kind source; do
    out=$fixtures/lv2file_$label.wav ref=$fixtures/cli_$label.wav
    rm -f "$out" "$ref"
    log=$(lv2file -P "$label" -i "$input" -o "$out" "$plugin" 2>&1) || fail "lv2file $label:"$'\n'"$log"
    [ -s "$out" ] || fail "lv2file wrote no $out:"$'\n'"$log"
    "$cli" run --"$kind" "$source" --mode stream "$input" -o "$ref" >/dev/null
    res=$("$tool" compare "$out" "$ref" 1e-6) || fail "$label: lv2file vs ssmkit run: $res"$'\n'"$log"
    echo "$label ($plugin, $kind): $res"
    n=$((n + 1))
  done < "$fixtures/presets.txt"
  [ "$n" -ge 5 ] || fail "only $n presets rendered"
  ;;

jalv)
  fixtures=$1
  need jalv jalv; need jackd jackd2; need jack_connect jackd2; need jack_lsp jackd2
  server=ssmkit-lv2-$$
  export JACK_NO_AUDIO_RESERVATION=1 JACK_DEFAULT_SERVER=$server
  period=${SSM_JACK_PERIOD:-1024}
  jackd --no-realtime -n "$server" -d dummy -r 48000 -p "$period" >"$fixtures/jackd.log" 2>&1 &
  jackd_pid=$!
  jalv_pid=
  metro_pid=
  cleanup() {
    [ -n "$jalv_pid" ] && kill "$jalv_pid" 2>/dev/null || true
    [ -n "$metro_pid" ] && kill "$metro_pid" 2>/dev/null || true
    kill "$jackd_pid" 2>/dev/null || true
    wait 2>/dev/null || true
  }
  trap cleanup EXIT
  for _ in $(seq 50); do jack_lsp >/dev/null 2>&1 && break; sleep 0.2; done
  jack_lsp >/dev/null 2>&1 || fail "jackd did not come up:"$'\n'"$(cat "$fixtures/jackd.log")"
  # A click source (jack_metro) into the plugin, the plugin out to the dummy playback.
  jack_metro -n metro -b 600 >/dev/null 2>&1 &
  metro_pid=$!
  mkfifo "$fixtures/jalv.in" 2>/dev/null || true
  jalv -n ssmkit_swap -x urn:ssmkit:lv2:stereo <"$fixtures/jalv.in" >"$fixtures/jalv.out" 2>&1 &
  jalv_pid=$!
  exec 3>"$fixtures/jalv.in"
  for _ in $(seq 50); do jack_lsp 2>/dev/null | grep -q "ssmkit_swap:in_l" && break; sleep 0.2; done
  jack_lsp 2>/dev/null | grep -q "ssmkit_swap:in_l" || fail "jalv did not register its ports:"$'\n'"$(cat "$fixtures/jalv.out")"
  jack_connect metro:120_bpm ssmkit_swap:in_l 2>/dev/null || jack_connect "$(jack_lsp | grep '^metro:' | head -1)" ssmkit_swap:in_l
  jack_connect "$(jack_lsp | grep '^metro:' | head -1)" ssmkit_swap:in_r
  jack_connect ssmkit_swap:out_l system:playback_1
  jack_connect ssmkit_swap:out_r system:playback_2
  echo "presets" >&3   # jalv's console loads the presets it knows (lilv) on this command
  sleep 0.5
  before=$(wc -c <"$fixtures/jackd.log")
  swaps=0
  for round in 1 2 3 4; do
    # Models that run well within real time on a loaded 2-core machine (a model file through the
    # registry and two built-in filters; the Mamba step path is still near 1x real time there).
    for p in s4d_mono_on_stereo s4d_filter_stereo hippo_stereo; do
      echo "preset urn:ssmkit:test:$p" >&3
      swaps=$((swaps + 1))
      sleep 0.4
      kill -0 "$jalv_pid" 2>/dev/null || fail "jalv died after preset $p:"$'\n'"$(cat "$fixtures/jalv.out")"
    done
  done
  sleep 0.5
  during=$(tail -c +"$((before + 1))" "$fixtures/jackd.log")
  exec 3>&-   # EOF on jalv's stdin
  kill -INT "$jalv_pid" 2>/dev/null || true
  status=0; wait "$jalv_pid" || status=$?
  jalv_pid=
  [ "$status" -eq 0 ] || [ "$status" -eq 130 ] || fail "jalv exited with status $status:"$'\n'"$(cat "$fixtures/jalv.out")"
  loaded=$(grep -c "ssmkit: state: loaded" "$fixtures/jalv.out" || true)
  freed=$(grep -c "ssmkit: freed the previous engine" "$fixtures/jalv.out" || true)
  xruns=$(grep -ci "xrun" <<<"$during" || true)
  echo "jalv: $swaps preset swaps while running, $loaded loaded, $freed previous engines freed by the worker; jackd xrun lines: $xruns"
  [ "$loaded" -eq "$swaps" ] || fail "expected $swaps loads:"$'\n'"$(cat "$fixtures/jalv.out")"
  [ "$freed" -ge $((swaps - 1)) ] || fail "the audio thread installed only $freed of $swaps engines:"$'\n'"$(cat "$fixtures/jalv.out")"
  [ "$xruns" -eq 0 ] || fail "xruns during the swaps:"$'\n'"$during"
  ;;
*)
  fail "unknown test '$what'"
  ;;
esac
