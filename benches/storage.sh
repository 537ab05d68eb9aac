#!/usr/bin/env bash
# Storage-team benchmarks (issue 18) against a real S3 server (SeaweedFS), msez beside the
# tools storage teams measure it by, on the same prefix of the same server, in paired rounds
# (each round runs every tool once, in turn), with every request counted by the repository's
# counting proxy (scripts/counting-proxy.py), never by the tools themselves:
#
#   - inventory of a STATS-object remote (default 100,000): `msez remote stats` beside
#     `aws s3 ls --recursive --summarize` and `rclone size` (the object count and bytes of all
#     three must agree, or the script fails);
#   - push of N objects (default 10,000) beside `rclone copy` and `aws s3 sync` of the same
#     files, each to a fresh prefix; clone of them beside `rclone copy` and `aws s3 sync` of
#     the prefix to a fresh folder.
#
#   scripts/test --serve /tmp/env & ; . /tmp/env ; benches/storage.sh [WORKDIR]
#
# Needs MSEZ_TEST_S3_ENDPOINT (and the AWS_* keys scripts/test exports), python3, aws
# (PyPI awscli), rclone (Debian). ROUNDS (default 3); MSEZ: a binary to use instead of
# building target/release/msez. Prints markdown rows: median seconds and
# the spread (min–max) per tool, requests per run, and the ratio baseline/msez of medians.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-3}
N=${N:-10000}
STATS=${STATS:-100000}
: "${MSEZ_TEST_S3_ENDPOINT:?start the services first: scripts/test --serve FILE, then . FILE}"
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/msez-storage-bench.XXXXXX")}
mkdir -p "$WORK"
if [ -z "${MSEZ:-}" ]; then
  cargo build --release --quiet
  MSEZ=$ROOT/target/release/msez
fi
BUCKET=${MSEZ_TEST_S3_BUCKET:-msez-test}
TAG=storage-$(date +%s)
PROXY_PID=
trap '[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true' EXIT

# Every tool talks to the proxy, which forwards to SeaweedFS and counts.
python3 scripts/counting-proxy.py --upstream "$MSEZ_TEST_S3_ENDPOINT" --counts "$WORK/counts.json" \
  >"$WORK/proxy.out" 2>&1 &
PROXY_PID=$!
for _ in $(seq 1 100); do grep -q listening "$WORK/proxy.out" 2>/dev/null && break; sleep 0.1; done
PROXY=$(sed -n 's/^listening on //p' "$WORK/proxy.out")
export AWS_ENDPOINT_URL=$PROXY AWS_ALLOW_HTTP=true AWS_DEFAULT_REGION=${AWS_REGION:-us-east-1}
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other \
  RCLONE_CONFIG_BENCH_ENDPOINT=$PROXY RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID \
  RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY RCLONE_CONFIG_BENCH_REGION=$AWS_DEFAULT_REGION \
  RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true
EP=(--endpoint-url "$PROXY")
# rclone's S3 client refuses AWS_CA_BUNDLE with its own transport; the proxy is plain http.
rcl() { env -u AWS_CA_BUNDLE rclone "$@"; }

# Requests the proxy has counted so far.
requests() { kill -USR1 "$PROXY_PID"; sleep 0.2; python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$WORK/counts.json"; }
# run NAME CMD...: times one run and counts its requests; appends "secs requests" to WORK/NAME.
run() {
  local name=$1 r0 t0 t1 r1
  shift
  r0=$(requests)
  t0=$(date +%s.%N)
  "$@" >"$WORK/$name.out" 2>&1 || { echo "$name failed:" >&2; tail -5 "$WORK/$name.out" >&2; exit 1; }
  t1=$(date +%s.%N)
  r1=$(requests)
  echo "$(echo "$t1 - $t0" | bc -l) $((r1 - r0))" >>"$WORK/$name"
}
# stat NAME: "median min max median-requests" of the runs recorded for NAME.
stat() {
  sort -n "$WORK/$1" | awk '{t[NR]=$1; q[NR]=$2} END {m=(NR%2)?t[(NR+1)/2]:(t[NR/2]+t[NR/2+1])/2;
    mq=(NR%2)?q[(NR+1)/2]:(q[NR/2]+q[NR/2+1])/2; printf "%.2f %.2f %.2f %d", m, t[1], t[NR], mq}'
}
row() { # row LABEL MSEZ-NAME BASELINE-LABEL BASELINE-NAME
  read -r m mlo mhi mq <<<"$(stat "$2")"
  read -r b blo bhi bq <<<"$(stat "$4")"
  printf '| %s | %s s (%s–%s), %s req | %s | %s s (%s–%s), %s req | **%.2f** |\n' \
    "$1" "$m" "$mlo" "$mhi" "$mq" "$3" "$b" "$blo" "$bhi" "$bq" "$(echo "$b / $m" | bc -l)"
}

# A repository of COUNT raw objects (200-2000 bytes each), as `msez artifact put` leaves them.
make_repo() { # make_repo DIR COUNT
  rm -rf "$1" && mkdir -p "$1" && "$MSEZ" -C "$1" -q init . >/dev/null && python3 - "$1/.msez/objects/blob" "$2" <<'PY'
import hashlib, os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(n):
    body = (b"msez storage bench object %d " % i) * (8 + i % 80)
    p = os.path.join(d, hashlib.sha256(body).hexdigest() + ".bin")
    with open(p, "wb") as f:
        f.write(body)
    os.chmod(p, 0o444)
PY
}

echo "machine: $(nproc) cores, $(uname -r); SeaweedFS on loopback; $(aws --version 2>&1 | cut -d' ' -f1); $(rclone version | head -1)" >&2
echo "| benchmark | msez: median (spread), requests | baseline | baseline: median (spread), requests | ratio (baseline / msez) |"
echo "|---|---|---|---|---|"

# --- inventory -------------------------------------------------------------------------------
make_repo "$WORK/stats" "$STATS"
"$MSEZ" -C "$WORK/stats" remote add origin "s3://$BUCKET/$TAG-stats" >/dev/null
"$MSEZ" -C "$WORK/stats" -q push origin --all-objects --jobs 16
for _ in $(seq 1 "$ROUNDS"); do
  run stats-msez "$MSEZ" -C "$WORK/stats" --json remote stats origin
  run stats-aws aws s3 ls "${EP[@]}" --recursive --summarize "s3://$BUCKET/$TAG-stats/objects/"
  run stats-rclone rcl size "bench:$BUCKET/$TAG-stats/objects"
done
objects=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["objects"]["count"])' "$WORK/stats-msez.out")
bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["objects"]["bytes"])' "$WORK/stats-msez.out")
aws_objects=$(sed -n 's/.*Total Objects: //p' "$WORK/stats-aws.out")
aws_bytes=$(sed -n 's/.*Total Size: //p' "$WORK/stats-aws.out")
rclone_line=$(grep "Total size" "$WORK/stats-rclone.out")
[ "$objects" = "$STATS" ] && [ "$aws_objects" = "$STATS" ] && [ "$bytes" = "$aws_bytes" ] &&
  grep -q "($bytes Byte" <<<"$rclone_line" ||
  { echo "the tools disagree: msez $objects/$bytes, aws $aws_objects/$aws_bytes, rclone $rclone_line" >&2; exit 1; }
row "\`msez remote stats\` of a $STATS-object remote" stats-msez '`aws s3 ls --recursive --summarize`' stats-aws
row "\`msez remote stats\` of a $STATS-object remote" stats-msez '`rclone size`' stats-rclone

# --- push and clone of N objects -------------------------------------------------------------
make_repo "$WORK/push" "$N"
mkdir -p "$WORK/files" && cp -r "$WORK/push/.msez/objects" "$WORK/files/"
for r in $(seq 1 "$ROUNDS"); do
  "$MSEZ" -C "$WORK/push" remote add "r$r" "s3://$BUCKET/$TAG-push-$r" >/dev/null
  run push-msez "$MSEZ" -C "$WORK/push" -q push "r$r" --all-objects
  run push-rclone rcl copy --transfers 8 "$WORK/files/objects" "bench:$BUCKET/$TAG-rclone-$r/objects"
  run push-aws aws s3 sync "${EP[@]}" --only-show-errors "$WORK/files/objects" "s3://$BUCKET/$TAG-aws-$r/objects"
  rm -rf "$WORK/clone-$r" "$WORK/rclone-$r" "$WORK/aws-$r"
  run clone-msez "$MSEZ" -q clone --all-objects "s3://$BUCKET/$TAG-push-$r" "$WORK/clone-$r"
  run clone-rclone rcl copy --transfers 8 "bench:$BUCKET/$TAG-push-$r/objects" "$WORK/rclone-$r"
  run clone-aws aws s3 sync "${EP[@]}" --only-show-errors "s3://$BUCKET/$TAG-push-$r/objects" "$WORK/aws-$r"
done
row "\`msez push --all-objects\` of $N objects (8 jobs)" push-msez '`rclone copy` of the same files (8 transfers)' push-rclone
row "\`msez push --all-objects\` of $N objects (8 jobs)" push-msez '`aws s3 sync` of the same files' push-aws
row "\`msez clone --all-objects\` of those $N objects (each verified)" clone-msez '`rclone copy` of the prefix to a folder' clone-rclone
row "\`msez clone --all-objects\` of those $N objects (each verified)" clone-msez '`aws s3 sync` of the prefix to a folder' clone-aws
