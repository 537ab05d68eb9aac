#!/usr/bin/env bash
# Transparency-log benchmarks (issue 17, docs/tlog.md) against a real S3 server (SeaweedFS),
# request counts from scripts/counting-proxy.py in front of it (never from msez's counters):
#
#   1. `msez tlog publish` of the whole N-receipt log to S3 beside `aws s3 sync` of the same
#      files (the log published to a directory first): time and requests, paired rounds;
#   2. `msez tlog publish` of ONE new receipt to that log: at most MAX_PUBLISH requests
#      (typical size, and the sizes where a level-0 tile and a level-1 tile fill up);
#   3. `msez tlog verify --light --entry E` (one inclusion, first contact and after a seen
#      checkpoint): at most MAX_VERIFY_TILES tile and bundle reads;
#   4. `msez witness serve` add-checkpoint requests per second (durable state) beside a bare
#      write+fdatasync loop of a state-sized file on the same disk, paired rounds.
# Prints markdown rows (median and min-max over the rounds) and exits non-zero when a request
# bound is exceeded.
#
#   benches/tlog.sh [WORKDIR]     N=100000 ROUNDS=3 benches/tlog.sh      REUSE=1 benches/tlog.sh DIR
#
# Needs MSEZ_TEST_S3_ENDPOINT (a running SeaweedFS: `. ENVFILE` of `scripts/test --serve ENVFILE`;
# bucket MSEZ_TEST_S3_BUCKET or msez-test), python3, bc, aws (pip awscli), and Go with
# golang-golang-x-mod-dev (tests/tlog-go writes the witness's requests). N receipts (default
# 1,000,000, built by batch appends of 50,000; REUSE=1 keeps WORKDIR's chain), ROUNDS paired
# rounds per figure (default 5; FULL_ROUNDS for the full publish, default 3), WITNESS_N
# requests per witness round (default 500); ATOMIC=1 publishes the one-receipt rounds through a
# remote added with --atomic-if-match (no ref-lock object). The one-receipt publish is also measured at the
# receipt that fills a level-0 tile and (unless L2=0) the one that fills a level-1 tile, which
# appends up to the next multiple of 65,536 first. ONE_ONLY=1 measures only the one-receipt
# publish rows (one full msez publish to create the log, no aws baseline, no verify or witness
# rounds, no Go tool).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-1000000}
ROUNDS=${ROUNDS:-5}
FULL_ROUNDS=${FULL_ROUNDS:-3}
WITNESS_N=${WITNESS_N:-500}
MAX_PUBLISH=6
MAX_VERIFY_TILES=6
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/msez-tlog-bench.XXXXXX")}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
if [ -z "${MSEZ:-}" ]; then
  cargo build --release --quiet
  MSEZ=$ROOT/target/release/msez
fi
: "${MSEZ_TEST_S3_ENDPOINT:?needs a running S3 server: . the ENVFILE of scripts/test --serve ENVFILE}"
BUCKET=${MSEZ_TEST_S3_BUCKET:-msez-test}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-msez-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-msez-test-secret}
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_DEFAULT_REGION=${AWS_REGION:-us-east-1} AWS_ALLOW_HTTP=true
TAG=$(date +%s)
FAILED=0
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

ONE_ONLY=${ONE_ONLY:-0}
GO_TOOL=$WORK/tlogcheck
[ "$ONE_ONLY" = 1 ] || (cd "$ROOT/tests/tlog-go" && GO111MODULE=off GOPATH="$WORK/gopath:/usr/share/gocode" \
  GOCACHE="$WORK/gocache" GOFLAGS= GOPROXY=off go build -o "$GO_TOOL" main.go)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
spread() { sort -n | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l | awk '{printf "%.3f", $1}'; }

# The counting proxy in front of the S3 server, stopped by PID at exit. Each measured command
# is counted as the log lines it added (`METHOD PATH STATUS IN OUT`).
python3 "$ROOT/scripts/counting-proxy.py" --upstream "$MSEZ_TEST_S3_ENDPOINT" \
  --log "$WORK/requests.log" --counts "$WORK/counts.json" >"$WORK/proxy.out" 2>"$WORK/proxy.err" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/proxy.out" ] && break; sleep 0.1; done
PROXY=$(sed -n 's/^listening on //p' "$WORK/proxy.out")
[ -n "$PROXY" ] || { echo "counting proxy did not start: $(cat "$WORK/proxy.err")" >&2; exit 1; }
mark() { wc -l <"$WORK/requests.log"; }
since() { tail -n +$(($1 + 1)) "$WORK/requests.log"; }
by_method() { awk '{print $1}' | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}'; }
msez_s3() { AWS_ENDPOINT_URL=$PROXY "$MSEZ" "$@"; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MB"}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); $("$MSEZ" --version 2>/dev/null | head -1); $(aws --version 2>&1 | cut -d' ' -f1)"

# --- the chain ----------------------------------------------------------------------------------
C=$WORK/chain
KEY=$ROOT/vectors/msez-fixtures/keys/dev.ed25519.jwk
if [ -n "${REUSE:-}" ] && [ -d "$C/.msez" ]; then
  cd "$C"
  mod=$(ls -d modules/smart-assets/* | head -n 1)
  echo "chain reused: $(ls "$mod/state/receipts" | wc -l) receipts"
else
  rm -rf "$C" && mkdir -p "$C" && cd "$C"
  "$MSEZ" -q init >/dev/null
  printf '{"type":"SmartAssetGenesis","asset_name":"tlog-bench","created_at":"2026-01-01T00:00:00Z"}' >genesis.json
  mod=modules/smart-assets/$("$MSEZ" asset module init --genesis genesis.json | head -n 1)
  step=$((N < 50000 ? N : 50000))
  t0=$(now)
  for start in $(seq 0 "$step" $((N - 1))); do
    python3 -c "
for i in range($start, min($start + $step, $N)):
    print('{\"kind\":\"transfer.v1\",\"payload\":{\"i\":%d}}' % i)" >batch.jsonl
    "$MSEZ" -q asset state receipt-init "$mod" --batch batch.jsonl --key "$KEY" >/dev/null
  done
  echo "chain of $N receipts built in $(elapsed "$t0") s (batch appends of $step)"
fi
cp "$KEY" dev.jwk
append() { # append COUNT TAG
  python3 -c "
for i in range($1):
    print('{\"kind\":\"transfer.v1\",\"payload\":{\"i\":%d,\"tag\":\"$2\"}}' % i)" >more.jsonl
  "$MSEZ" -q asset state receipt-init "$mod" --batch more.jsonl --key dev.jwk >/dev/null
}
size() { ls "$mod/state/receipts" | wc -l; }
ORIGIN=$("$MSEZ" tlog origin "$mod")
VKEY=$("$MSEZ" key vkey --key dev.jwk --name "$ORIGIN")
LOGPATH=tlog/${ORIGIN#*/}
t0=$(now)
"$MSEZ" -q tlog checkpoint "$mod" --key dev.jwk >/dev/null
echo "tlog checkpoint of $(size) receipts: $(elapsed "$t0") s"
rm -rf "$WORK/pubdir"
t0=$(now)
"$MSEZ" -q tlog publish "$mod" "$WORK/pubdir" --key dev.jwk >/dev/null
echo "tlog publish to a directory: $(elapsed "$t0") s, $(find "$WORK/pubdir" -type f | wc -l) files, $(find "$WORK/pubdir" -type f -printf '%s\n' | awk '{s+=$1} END {print s}') bytes"
echo

# --- 1. full publish vs aws s3 sync ---------------------------------------------------------------
echo "| benchmark | msez: median (min-max) | baseline | baseline: median (min-max) | ratio (baseline / msez) |"
echo "|---|---|---|---|---|"
: >"$WORK/full.txt"
for r in $(seq 1 "$FULL_ROUNDS"); do
  one_msez() {
    local m t0; m=$(mark); t0=$(now)
    msez_s3 -q tlog publish "$mod" "s3://$BUCKET/tlog-bench-$TAG-$r" --key dev.jwk >/dev/null
    echo "msez $(elapsed "$t0") $(since "$m" | wc -l) $(since "$m" | by_method | tr ' ' '_')" >>"$WORK/full.txt"
  }
  one_aws() {
    local m t0; m=$(mark); t0=$(now)
    aws --endpoint-url "$PROXY" s3 sync --only-show-errors "$WORK/pubdir" "s3://$BUCKET/tlog-bench-aws-$TAG-$r/$LOGPATH"
    echo "aws $(elapsed "$t0") $(since "$m" | wc -l) $(since "$m" | by_method | tr ' ' '_')" >>"$WORK/full.txt"
  }
  if [ "$ONE_ONLY" = 1 ]; then one_msez; break; fi
  if [ $((r % 2)) = 1 ]; then one_msez; one_aws; else one_aws; one_msez; fi
done
# Per-round ratios (aws / msez of the same round), paired because the machine is shared.
pm=$(awk '$1=="msez" {print $2}' "$WORK/full.txt" | median)
if [ "$ONE_ONLY" = 1 ]; then
  printf '| `msez tlog publish` of %d entries to S3 (%s requests: %s), one round, no baseline | %.2f s | | | |\n' \
    "$(size)" "$(awk '$1=="msez" {print $3; exit}' "$WORK/full.txt")" "$(awk '$1=="msez" {print $4; exit}' "$WORK/full.txt" | tr '_' ' ')" "$pm"
else
paired=$(awk '$1=="msez" {m[++i]=$2} $1=="aws" {a[++j]=$2} END {for (k=1; k<=i; k++) printf "%.2f\n", a[k]/m[k]}' "$WORK/full.txt")
pa=$(awk '$1=="aws" {print $2}' "$WORK/full.txt" | median)
printf '| `msez tlog publish` of %d entries to S3 (%s requests: %s) | %.2f s (%s) | `aws s3 sync` of the same files (%s requests: %s) | %.2f s (%s) | **%.2f** (paired rounds: median %s, %s) |\n' \
  "$(size)" "$(awk '$1=="msez" {print $3; exit}' "$WORK/full.txt")" "$(awk '$1=="msez" {print $4; exit}' "$WORK/full.txt" | tr '_' ' ')" \
  "$pm" "$(awk '$1=="msez" {print $2}' "$WORK/full.txt" | spread)" \
  "$(awk '$1=="aws" {print $3; exit}' "$WORK/full.txt")" "$(awk '$1=="aws" {print $4; exit}' "$WORK/full.txt" | tr '_' ' ')" \
  "$pa" "$(awk '$1=="aws" {print $2}' "$WORK/full.txt" | spread)" "$(echo "$pa / $pm" | bc -l)" \
  "$(echo "$paired" | median)" "$(echo "$paired" | spread)"
fi
DEST=s3://$BUCKET/tlog-bench-$TAG-1
LOG=$DEST/$LOGPATH
# ATOMIC=1: publish through a remote added with --atomic-if-match (no ref-lock object: for
# servers whose If-Match is atomic; SeaweedFS's is not, so this counts requests, nothing more).
PUBDEST=$DEST
if [ "${ATOMIC:-0}" = 1 ]; then
  "$MSEZ" remote remove tlogbench >/dev/null 2>&1 || true   # a reused chain's earlier run
  "$MSEZ" remote add tlogbench "$DEST" --atomic-if-match >/dev/null
  PUBDEST=tlogbench
fi

# --- 2. one new receipt ---------------------------------------------------------------------------
publish_one() { # publish_one LABEL: one receipt appended, published; prints "secs requests methods"
  append 1 "$1"
  local m t0 t n; m=$(mark); t0=$(now)
  msez_s3 -q tlog publish "$mod" "$PUBDEST" --key dev.jwk >/dev/null
  t=$(elapsed "$t0"); n=$(since "$m" | wc -l)
  since "$m" | sed "s|/$BUCKET/tlog-bench-$TAG-1/||" >"$WORK/last-publish.log"
  if [ "$n" -gt "$MAX_PUBLISH" ]; then
    echo "OVER THE BOUND: publish of one receipt at size $(size) made $n requests (> $MAX_PUBLISH):" >&2
    cat "$WORK/last-publish.log" >&2
    FAILED=1
  fi
  echo "$t $n $(by_method <"$WORK/last-publish.log" | tr ' ' '_')"
}
: >"$WORK/one.txt"
start=$(size)
for r in $(seq 1 "$ROUNDS"); do publish_one "one$r" >>"$WORK/one.txt"; done
printf '| `msez tlog publish` of one new receipt to the %d-entry log on S3 (%d rounds, one receipt each): **%s requests** (%s) | %.3f s (%s) | the full publish above | %.2f s | %.0f |\n' \
  "$start" "$ROUNDS" "$(awk '{print $2}' "$WORK/one.txt" | sort -n | uniq | tr '\n' '/' | sed 's|/$||')" \
  "$(awk '{print $3; exit}' "$WORK/one.txt" | tr '_' ' ')" "$(awk '{print $1}' "$WORK/one.txt" | median)" \
  "$(awk '{print $1}' "$WORK/one.txt" | spread)" "$pm" "$(echo "$pm / $(awk '{print $1}' "$WORK/one.txt" | median)" | bc -l)"
echo "requests of the last one-receipt publish:" >&2
cat "$WORK/last-publish.log" >&2
# The receipt that fills a level-0 tile: that tile and its bundle become full, level 1 grows.
s=$(size)
fill=$(((s / 256 + 1) * 256 - 1 - s))
[ "$fill" -gt 0 ] && append "$fill" fill && msez_s3 -q tlog publish "$mod" "$PUBDEST" --key dev.jwk >/dev/null
publish_one tile >"$WORK/p.txt"; read -r t n meth <"$WORK/p.txt"
printf '| same, the receipt that fills a level-0 tile (size %d): **%s requests** (%s) | %.3f s | | | |\n' "$(size)" "$n" "$(echo "$meth" | tr '_' ' ')" "$t"
sed 's/^/  /' "$WORK/last-publish.log" >&2
# --- 3. one inclusion (not with ONE_ONLY=1) --------------------------------------------------------
if [ "$ONE_ONLY" != 1 ]; then
verify_one() { # verify_one ENTRY STATE: prints "secs tile_reads requests"
  local m t0 t; m=$(mark); t0=$(now)
  msez_s3 -q tlog verify "$LOG" --vkey "$VKEY" --light --entry "$1" --state "$2" >/dev/null
  t=$(elapsed "$t0")
  since "$m" | sed "s|/$BUCKET/tlog-bench-$TAG-1/$LOGPATH/||" >"$WORK/last-verify.log"
  local tiles; tiles=$(grep -c '^GET tile/' "$WORK/last-verify.log" || true)
  if [ "$tiles" -gt "$MAX_VERIFY_TILES" ]; then
    echo "OVER THE BOUND: verify of entry $1 read $tiles tiles (> $MAX_VERIFY_TILES):" >&2
    cat "$WORK/last-verify.log" >&2
    FAILED=1
  fi
  echo "$t $tiles $(wc -l <"$WORK/last-verify.log")"
}
: >"$WORK/verify.txt"
: >"$WORK/verify-seen.txt"
for r in $(seq 1 "$ROUNDS"); do
  # Both ends and the middle first (the longest audit paths), then spread entries.
  case $r in 1) e=0 ;; 2) e=$((N / 2)) ;; 3) e=$((N - 1)) ;; *) e=$(((r * 7919 * 127) % N)) ;; esac
  rm -rf "$WORK/seen"
  verify_one "$e" "$WORK/seen" >>"$WORK/verify.txt"
  # Seen before at this size minus one: the consistency proof's tiles come in too.
  append 1 "v$r"
  msez_s3 -q tlog publish "$mod" "$PUBDEST" --key dev.jwk >/dev/null
  verify_one "$e" "$WORK/seen" >>"$WORK/verify-seen.txt"
done
cat "$WORK/last-verify.log" | sed 's/^/  /' >&2
for f in verify verify-seen; do
  label="first contact (no checkpoint seen)"
  [ "$f" = verify-seen ] && label="checkpoint seen one receipt before"
  printf '| `msez tlog verify --light --entry E` of one inclusion from the %d-entry log on S3, %s: **%s tile reads** (of %s requests, the checkpoint included) | %.3f s (%s) | | | |\n' \
    "$(size)" "$label" "$(awk '{print $2}' "$WORK/$f.txt" | sort -n | uniq | tr '\n' '/' | sed 's|/$||')" \
    "$(awk '{print $3}' "$WORK/$f.txt" | sort -n | uniq | tr '\n' '/' | sed 's|/$||')" \
    "$(awk '{print $1}' "$WORK/$f.txt" | median)" "$(awk '{print $1}' "$WORK/$f.txt" | spread)"
done
fi

# --- 2b. the receipt that fills a level-1 tile (after the verify rounds: it grows the log) ----
if [ "${L2:-1}" = 1 ]; then
  s=$(size)
  fill=$(((s / 65536 + 1) * 65536 - 1 - s))
  [ "$fill" -gt 0 ] && append "$fill" fill2 && msez_s3 -q tlog publish "$mod" "$PUBDEST" --key dev.jwk >/dev/null
  publish_one l2 >"$WORK/p.txt"; read -r t n meth <"$WORK/p.txt"
  printf '| same, the receipt that fills a level-1 tile (size %d): **%s requests** (%s) | %.3f s | | | |\n' "$(size)" "$n" "$(echo "$meth" | tr '_' ' ')" "$t"
  sed 's/^/  /' "$WORK/last-publish.log" >&2
fi


# --- 4. witness add-checkpoint rate vs write+fdatasync --------------------------------------------
if [ "$ONE_ONLY" = 1 ]; then
  kill -USR1 "${PIDS[0]}" 2>/dev/null || true
  [ "$FAILED" = 0 ] || { echo "a request bound was exceeded (see above)" >&2; exit 1; }
  exit 0
fi
"$GO_TOOL" witness-requests "$WORK/wreq" example.org/bench-log "$WITNESS_N" >"$WORK/wreq.vkey"
"$MSEZ" -q key gen --out "$WORK/witness.jwk" --kid witness >/dev/null 2>&1
witness_round() { # prints requests/s
  local st=$WORK/wstate out=$WORK/witness.out pid rate
  rm -rf "$st"
  : >"$out"
  "$MSEZ" witness serve --key "$WORK/witness.jwk" --name example.org/bench-witness --state "$st" \
    --listen 127.0.0.1:0 --log "$(cat "$WORK/wreq.vkey")" >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do [ "$(wc -l <"$out")" -ge 2 ] && break; sleep 0.1; done
  rate=$(python3 - "$(sed -n 's/^listening on //p' "$out")" "$WORK/wreq" "$WITNESS_N" <<'PY'
import http.client, sys, time, urllib.parse
u, d, n = urllib.parse.urlsplit(sys.argv[1]), sys.argv[2], int(sys.argv[3])
bodies = [open(f"{d}/{i}", "rb").read() for i in range(n)]
t0 = time.monotonic()
for i, b in enumerate(bodies):
    c = http.client.HTTPConnection(u.hostname, u.port)
    c.request("POST", "/add-checkpoint", body=b)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200 or not data.startswith("\u2014 ".encode()):
        sys.exit(f"request {i}: {r.status} {data!r}")
print(f"{n / (time.monotonic() - t0):.1f}")
PY
)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  du -b "$st"/*.json | awk '{print $1}' >"$WORK/state.size"
  echo "$rate"
}
fsync_round() { # MODE bare|rename: prints writes/s of a state-sized file on the same disk
  python3 - "$WORK/fsync-state" "$(cat "$WORK/state.size" 2>/dev/null || echo 600)" "$WITNESS_N" "$1" <<'PY'
import os, sys, time
path, size, n, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
d = os.path.dirname(path)
t0 = time.monotonic()
if mode == "bare":
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for i in range(n):
        os.pwrite(fd, (b"%08d" % i) + b"x" * (size - 8), 0)
        os.fdatasync(fd)
    os.close(fd)
else:  # what a crash-safe state write costs: temp file, fsync, rename, directory fsync
    dfd = os.open(d, os.O_RDONLY)
    for i in range(n):
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, (b"%08d" % i) + b"x" * (size - 8))
        os.fsync(fd)
        os.close(fd)
        os.rename(path + ".tmp", path)
        os.fsync(dfd)
    os.close(dfd)
print(f"{n / (time.monotonic() - t0):.1f}")
PY
}
: >"$WORK/witness.txt"
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then
    w=$(witness_round); b=$(fsync_round bare); x=$(fsync_round rename)
  else
    x=$(fsync_round rename); b=$(fsync_round bare); w=$(witness_round)
  fi
  echo "$w $b $x $(echo "$b / $w" | bc -l) $(echo "$x / $w" | bc -l)" >>"$WORK/witness.txt"
done
printf '| `msez witness serve` add-checkpoint, durable state (%d requests a round, x/mod-signed notes and consistency proofs) | %s req/s (%s) | bare `pwrite` + `fdatasync` loop of a %s-byte file, same disk | %s /s (%s) | **%.2f** (%s) |\n' \
  "$WITNESS_N" "$(awk '{print $1}' "$WORK/witness.txt" | median)" "$(awk '{print $1}' "$WORK/witness.txt" | spread)" \
  "$(cat "$WORK/state.size")" "$(awk '{print $2}' "$WORK/witness.txt" | median)" "$(awk '{print $2}' "$WORK/witness.txt" | spread)" \
  "$(awk '{printf "%.3f\n", 1 / $4}' "$WORK/witness.txt" | median)" "$(awk '{printf "%.2f\n", 1 / $4}' "$WORK/witness.txt" | spread)"
printf '| same | | temp file + `fsync` + rename + directory `fsync` loop, same size and disk | %s /s (%s) | **%.2f** (%s) |\n' \
  "$(awk '{print $3}' "$WORK/witness.txt" | median)" "$(awk '{print $3}' "$WORK/witness.txt" | spread)" \
  "$(awk '{printf "%.3f\n", 1 / $5}' "$WORK/witness.txt" | median)" "$(awk '{printf "%.2f\n", 1 / $5}' "$WORK/witness.txt" | spread)"

kill -USR1 "${PIDS[0]}" 2>/dev/null || true
[ "$FAILED" = 0 ] || { echo "a request bound was exceeded (see above)" >&2; exit 1; }
