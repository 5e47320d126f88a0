#!/usr/bin/env bash
# `make image-check`: build the mspilot image on this machine and prove the containerised stack
# works — health, one chat answer over SSE, one digest (and the worker when one exists).
#
# No image registry is reachable here, so the base image is built from Debian bookworm with
# debootstrap and passed as BASE_IMAGE; dockerd runs without iptables/bridge (vfs storage) and
# every container uses the host's network against the local PostgreSQL and Redis.
# Prints the image size and the api container's cold start. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${MSPILOT_IMAGE:-mspilot:check}
BASE=${MSPILOT_BASE_IMAGE:-mspilot-base:bookworm}
PORT=${MSPILOT_CHECK_PORT:-18080}
PG=${MSPILOT_CHECK_PG:-postgresql+psycopg://postgres@127.0.0.1:5432}
DB=mspilot_imagecheck
REDIS=${MSPILOT_CHECK_REDIS:-redis://127.0.0.1:6379/14}
DATA=$(mktemp -d /tmp/mspilot-image-check.XXXXXX)
chmod 0777 "$DATA"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
  docker rm -f mspilot-check-api mspilot-check-worker >/dev/null 2>&1 || true
  rm -rf "$DATA"
}
trap cleanup EXIT

say "tools"
# Debian's docker.io client builds with BuildKit built in (a newer client elsewhere on PATH may
# want the buildx plugin); it is the client of the engine this script starts
docker() { if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else command docker "$@"; fi; }
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
if ! docker info >/dev/null 2>&1; then
  (dockerd --iptables=false --bridge=none --storage-driver=vfs >/var/log/mspilot-dockerd.log 2>&1 &)
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null
fi

say "base image $BASE"
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  root=$(mktemp -d /tmp/mspilot-rootfs.XXXXXX)
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" http://deb.debian.org/debian
  # the host's CA bundle: PyPI is reached through this machine's egress proxy
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  chmod 0755 "$root"  # mktemp made it 0700: as the image's /, the non-root user could not enter
  tar -C "$root" -c . | docker import \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' - "$BASE"
  rm -rf "$root"
fi

say "build $IMAGE"
start=$(date +%s)
# BuildKit: metadata steps make no container (with vfs each container copies the whole tree)
DOCKER_BUILDKIT=1 docker build --network host --build-arg "BASE_IMAGE=$BASE" -t "$IMAGE" .
echo "built in $(( $(date +%s) - start )) s"
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
base_size=$(docker image inspect -f '{{.Size}}' "$BASE")
echo "image size: $(( size / 1000000 )) MB (base $(( base_size / 1000000 )) MB)"

say "database $DB"
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" \
  -c "CREATE DATABASE $DB"
run() {
  docker run --rm --network host -v "$DATA:/data" \
    -e MSPILOT_DATABASE_URL="$PG/$DB" -e MSPILOT_REDIS_URL="$REDIS" "$IMAGE" "$@"
}
run db upgrade
run demo run --clients 40 --json > "$DATA/demo.json"
echo "demo loaded and trained"
run users create owner@check.example --role owner >/dev/null
token=$(run users token owner@check.example)

say "api container: cold start"
t0=$(date +%s.%N)
docker run -d --name mspilot-check-api --network host -v "$DATA:/data" \
  -e MSPILOT_DATABASE_URL="$PG/$DB" -e MSPILOT_REDIS_URL="$REDIS" \
  "$IMAGE" serve --host 127.0.0.1 --port "$PORT" >/dev/null
until curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do
  sleep 0.2
  if [ "$(docker inspect -f '{{.State.Running}}' mspilot-check-api)" != true ]; then
    docker logs mspilot-check-api; exit 1
  fi
done
t1=$(date +%s.%N)
until curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do sleep 0.2; done
t2=$(date +%s.%N)
printf 'cold start: healthy after %.1f s, ready after %.1f s\n' \
  "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t0" | bc)"
curl -fsS "http://127.0.0.1:$PORT/readyz"; echo

say "one chat answer over SSE"
answer=$(curl -fsS -N -X POST "http://127.0.0.1:$PORT/v1/chat" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"question": "How many tickets did we open last month?"}')
final=$(echo "$answer" | grep -A1 '^event: final' | sed -n 's/^data: //p')
[ -n "$final" ] || { echo "$answer" | head -c 2000; echo; echo "no final event in the SSE stream"; exit 1; }
python3 - "$final" <<'PY'
import json, sys
answer = json.loads(sys.argv[1])["text"]
print(f"chat answer from the container: {answer!r}")
sys.exit(0 if any(ch.isdigit() for ch in answer) else 1)
PY

say "one digest"
docker exec mspilot-check-api mspilot digest preview --json > "$DATA/digest.json"
python3 - "$DATA/digest.json" <<'PY'
import json, sys
digest = json.load(open(sys.argv[1]))
items = digest.get("items") or digest.get("sections") or []
print(f"digest: {len(items)} items; first: {json.dumps(items[:1])[:400]}")
sys.exit(0 if items else 1)
PY

if docker run --rm "$IMAGE" worker --help >/dev/null 2>&1; then
  say "worker container"
  docker run -d --name mspilot-check-worker --network host -v "$DATA:/data" \
    -e MSPILOT_DATABASE_URL="$PG/$DB" -e MSPILOT_REDIS_URL="$REDIS" \
    -e MSPILOT_BROKER_URL="${REDIS%/*}/15" "$IMAGE" worker >/dev/null
  sleep 5
  docker ps --filter name=mspilot-check-worker --format '{{.Names}} {{.Status}}'
fi

say "image-check passed"
