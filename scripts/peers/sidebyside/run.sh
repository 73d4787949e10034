#!/usr/bin/env bash
# Side-by-side wrk benchmark: the Django REST anchor (../django_seed) against the GraphQL auth
# service of this repository, interleaved in time on the same machine. See README.md.
# Usage: ./run.sh [PROJECT_DIR]     PROJECT_DIR: installed checkout (`npm ci` done); default: $PWD
# Env: ROUNDS=3 DURATION=8s WARMUP=2s (round 1 only) THREADS=2 CONNS=32 CONNS_LOGIN=16
#      TIMEOUT=10s USERS=60 (GraphQL createUser count; also Django SEED_USERS unless DJANGO_SEED_USERS)
#      GQL_BCRYPT_COST=10
# All traffic goes to 127.0.0.1. Both servers are stopped by pid on exit, failure included.
set -euo pipefail
PROJECT=$(cd "${1:-.}" && pwd) || { echo "no such directory: ${1:-.}" >&2; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
DJANGO_SRC="$here/../django_seed"
ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-8s}; WARMUP=${WARMUP:-2s}; THREADS=${THREADS:-2}
CONNS=${CONNS:-32}; CONNS_LOGIN=${CONNS_LOGIN:-16}; TIMEOUT=${TIMEOUT:-10s}; USERS=${USERS:-60}
GQL_BCRYPT_COST=${GQL_BCRYPT_COST:-10}
# As an operator runs it beside gunicorn's 2 workers: one process per core, behind a TLS proxy
# (simulated: TRUST_PROXY=1 and X-Forwarded-Proto: https on every GraphQL request, so the
# production cookie is Secure yet sent over the loopback's plain http). GQL_ENV adds variables.
GQL_WEB_CONCURRENCY=${GQL_WEB_CONCURRENCY:-2}; GQL_ENV=${GQL_ENV:-}; export XFP=https
for c in wrk curl npm node setsid; do
  command -v "$c" >/dev/null || { echo "missing $c (wrk: apt-get install -y wrk)" >&2; exit 1; }
done
[ -f "$PROJECT/package.json" ] || { echo "$PROJECT has no package.json (usage: ./run.sh PROJECT_DIR)" >&2; exit 1; }
[ -f "$DJANGO_SRC/start.sh" ] || { echo "missing $DJANGO_SRC/start.sh" >&2; exit 1; }
. "$DJANGO_SRC/lib.sh"; pick_python; PY3=$PY   # the anchor's python3 (also used for JSON here)
[ -d "$PROJECT/node_modules" ] || echo "warning: $PROJECT has no node_modules (run npm ci there first)" >&2

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sidebyside.XXXXXX")
DJ_DIR=$TMP/django_seed; GQL_DB=$TMP/gql/app.db; mkdir -p "$TMP/gql" "$TMP/wrk"
DJ_PID=; GQL_PID=; WPID=; GQL_MODE=production; GQL_NOTE=; GQL_LOG=

die() { echo "ERROR: $*" >&2; exit 1; }
rand() { "$PY3" -c 'import secrets, string, sys; a = string.ascii_letters + string.digits
print("".join(secrets.choice(a) for _ in range(int(sys.argv[1]))))' "$1"; }
# jget FILE KEY.PATH... -> one value per line (lists indexed by number, len() via "#")
jget() { "$PY3" - "$@" <<'EOF'
import json, sys
d0 = json.load(open(sys.argv[1]))
for path in sys.argv[2:]:
    d = d0
    for k in path.split('.'):
        d = len(d) if k == '#' else d[int(k)] if isinstance(d, list) else d[k]
    print(json.dumps(d) if isinstance(d, (dict, list)) or d is None else d)
EOF
}
# gql_body 'GraphQL document with %s' ARG... -> JSON request body; each ARG becomes a string literal
gql_body() { "$PY3" -c 'import json, sys
print(json.dumps({"query": sys.argv[1] % tuple(json.dumps(a) for a in sys.argv[2:])}))' "$@"; }
# Cookie header from the raw Set-Cookie lines of a `curl -D` header dump (what `curl -si` shows):
# a cookie jar would drop Secure cookies over plain http, the raw header keeps them.
cookie_from_headers() { tr -d '\r' < "$1" | awk '{ l = tolower($0) } l ~ /^set-cookie:/ {
  v = substr($0, 12); sub(/^[ \t]+/, "", v); sub(/;.*/, "", v); i = index(v, "=")
  if (i > 1 && i < length(v)) out = out (out == "" ? "" : "; ") v } END { print out }'; }
cookie_attrs() { tr -d '\r' < "$1" | awk '{ l = tolower($0) } l ~ /^set-cookie:/ {
  v = substr($0, 12); sub(/^[ \t]+/, "", v); n = v; sub(/=.*/, "", n); a = v; sub(/^[^;]*;?[ ]*/, "", a)
  out = out (out == "" ? "" : " | ") n ": " a } END { print out }'; }
# post URL BODY [COOKIE] -> CODE; body in $TMP/body, raw response headers in $TMP/headers
post() {
  local a=(-sS -D "$TMP/headers" -o "$TMP/body" -w '%{http_code}' --max-time 60
           -H 'Content-Type: application/json' --data-binary "$2")
  [ -z "${3:-}" ] || a+=(-H "Cookie: $3")
  [ -z "$XFP" ] || a+=(-H "X-Forwarded-Proto: $XFP")   # production behind a TLS proxy (Django ignores it)
  CODE=$(curl "${a[@]}" "$1") || CODE=000
}
get() { CODE=$(curl -sS -D "$TMP/headers" -o "$TMP/body" -w '%{http_code}' --max-time 60 -H "Cookie: $2" "$1") || CODE=000; }

tree_pids() {  # ROOT -> ROOT and all its descendants (breadth first)
  local todo=("$1") out=() p
  while [ ${#todo[@]} -gt 0 ]; do
    p=${todo[0]}; todo=("${todo[@]:1}")
    [ -d "/proc/$p" ] || continue
    out+=("$p"); todo+=($(cat /proc/"$p"/task/*/children 2>/dev/null || true))
  done
  echo "${out[*]}"
}
alive() { local s; [ -r "/proc/$1/stat" ] && read -r s < "/proc/$1/stat" 2>/dev/null || return 1; s=${s##*) }; [ "${s%% *}" != Z ]; }
stop_tree() {  # ROOT: TERM every pid of its tree and each process group led by one of them; KILL after 10 s
  local pids p g s any
  pids=$(tree_pids "$1"); [ -n "$pids" ] || return 0
  for p in $pids; do
    read -r s < "/proc/$p/stat" 2>/dev/null || continue; s=${s##*) }; read -r _ _ g _ <<< "$s"
    [[ " $pids " == *" $g "* ]] && kill -TERM -- "-$g" 2>/dev/null || true
  done
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 100); do
    any=; for p in $pids; do alive "$p" && any=1; done
    [ -n "$any" ] || break; sleep 0.1
  done
  for p in $pids; do alive "$p" && { echo "pid $p still alive after 10 s: KILL" >&2; kill -KILL "$p" 2>/dev/null || true; }; done
  wait "$1" 2>/dev/null || true
}
stop_gql() { [ -z "$GQL_PID" ] || { stop_tree "$GQL_PID"; echo "stopped graphql pid $GQL_PID"; }; GQL_PID=; }
stop_django() {
  [ -s "$DJ_DIR/run/gunicorn.pid" ] || return 0
  local pids; pids=$(tree_pids "$(cat "$DJ_DIR/run/gunicorn.pid")")
  "$DJ_DIR/stop.sh" || { for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done; }
}
cleanup() {
  local rc=$?; set +e; trap - EXIT INT TERM
  [ -z "$WPID" ] || for p in $(tree_pids "$WPID"); do kill -TERM "$p" 2>/dev/null; done
  if [ "$rc" != 0 ] && [ "$rc" != 2 ]; then  # 2: bad responses, logs already shown
    [ -z "$GQL_PID" ] || [ ! -s "$GQL_LOG" ] || { echo "--- graphql server log (tail):"; tail -n 30 "$GQL_LOG"; } >&2
    [ -s "$DJ_DIR/run/gunicorn.log" ] && { echo "--- gunicorn log (tail):"; tail -n 10 "$DJ_DIR/run/gunicorn.log"; } >&2
  fi
  stop_gql; stop_django
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r DJ_PORT GQL_PORT < <("$PY3" -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
DJ_BASE=http://127.0.0.1:$DJ_PORT; GQL_BASE=http://127.0.0.1:$GQL_PORT

# ---- 1. Django anchor: a fresh copy (its run/ stays untouched), started by its own start.sh.
DJ_EMAIL=admin@example.com; DJ_PW=adminpass123
(cd "$DJANGO_SRC" && tar --exclude=./run --exclude=__pycache__ -cf - .) | (mkdir -p "$DJ_DIR" && cd "$DJ_DIR" && tar -xf -)
PORT=$DJ_PORT WORKERS=2 SEED_USERS=${DJANGO_SEED_USERS:-$USERS} ADMIN_EMAIL=$DJ_EMAIL ADMIN_PASSWORD=$DJ_PW \
  "$DJ_DIR/start.sh" | sed 's/^/django: /'
DJ_PID=$(cat "$DJ_DIR/run/gunicorn.pid")

# ---- 1. GraphQL service: npm start in PROJECT_DIR, in its own session (setsid) so that the
# whole npm -> sh -> node tree can be signalled by pid; production first.
SESSION_SECRET=$(rand 48); JWT_SECRET=$(rand 48)
# Production requires an encryption key for TOTP secrets: 32 random bytes, base64.
TOTP_ENCRYPTION_KEY=$("$PY3" -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())')
GQL_ADMIN=bench-admin@example.com; GQL_PW="sbs-$(rand 28)"; GQL_USER_PW="sbs-$(rand 28)"
gql_env() {
  GENV=(PORT="$GQL_PORT" HOST=127.0.0.1 DATABASE_URL="file:$GQL_DB" SESSION_SECRET="$SESSION_SECRET"
        JWT_SECRET="$JWT_SECRET" TOTP_ENCRYPTION_KEY="$TOTP_ENCRYPTION_KEY" RATE_LIMITS=off LOG_LEVEL=warn BCRYPT_COST="$GQL_BCRYPT_COST"
        WEB_CONCURRENCY="$GQL_WEB_CONCURRENCY" $GQL_ENV)
  [ "$GQL_MODE" != production ] || GENV+=(NODE_ENV=production TRUST_PROXY=1)
}
UNSET=(-u NODE_ENV -u CORS_ORIGINS -u TRUST_PROXY -u SMTP_URL -u MAIL_FROM -u PASSWORD_RESET_URL)
start_gql() {  # -> 0 when GET /health answered 200 within 120 s
  gql_env; echo "graphql: npm start (NODE_ENV=${GQL_MODE/development/unset}) on $GQL_BASE"; GQL_LOG=$TMP/gql-$GQL_MODE.log
  (cd "$PROJECT" && exec env "${UNSET[@]}" "${GENV[@]}" setsid -w npm start) >> "$GQL_LOG" 2>&1 < /dev/null &
  GQL_PID=$!
  local t0=$SECONDS code
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$GQL_BASE/health" || true)
    [ "$code" != 200 ] || { echo "graphql: /health 200 after $((SECONDS - t0)) s (pid $GQL_PID)"; return 0; }
    alive "$GQL_PID" || { echo "graphql: npm start exited; log tail:"; tail -n 15 "$GQL_LOG" | sed 's/^/  | /'; GQL_PID=; return 1; }
    [ $((SECONDS - t0)) -lt 120 ] || { echo "graphql: no /health 200 in 120 s (last: $code)"; stop_gql; return 1; }
    sleep 0.5
  done
}
login_gql() {  # -> GQL_COOKIE (may be empty)
  post "$GQL_BASE/graphql" "$(gql_body 'mutation { login(input: {email: %s, password: %s}) { __typename ... on User { id email } ... on Error { message } } }' "$GQL_ADMIN" "$GQL_PW")"
  [ "$CODE" = 200 ] && [ "$(jget "$TMP/body" data.login.__typename 2>/dev/null)" = User ] ||
    die "graphql login as $GQL_ADMIN: HTTP $CODE $(head -c 400 "$TMP/body")"
  GQL_COOKIE=$(cookie_from_headers "$TMP/headers")
  [ -z "$GQL_COOKIE" ] || echo "graphql: login Set-Cookie (name: attributes) $(cookie_attrs "$TMP/headers")"
}
# create-admin before the server starts (on SQLite it failed while the server held the file).
gql_env
(cd "$PROJECT" && timeout 120 env "${UNSET[@]}" "${GENV[@]}" npm run create-admin -- --email "$GQL_ADMIN" --password "$GQL_PW") \
  > "$TMP/create-admin.log" 2>&1 < /dev/null || die "npm run create-admin failed: $(tail -n 15 "$TMP/create-admin.log")"
echo "graphql: npm run create-admin -- --email $GQL_ADMIN ok"
if ! start_gql; then
  GQL_MODE=development; GQL_NOTE="GraphQL ran with NODE_ENV unset (development): it did not start with NODE_ENV=production"
  echo "WARNING: $GQL_NOTE; retrying in development mode"; start_gql || die "the GraphQL service did not start"
fi
login_gql
if [ -z "$GQL_COOKIE" ] && [ "$GQL_MODE" = production ]; then
  GQL_MODE=development; GQL_NOTE="GraphQL ran with NODE_ENV unset (development): login set no cookie in production over plain http"
  echo "WARNING: $GQL_NOTE; restarting in development mode (same database)"
  stop_gql; start_gql || die "the GraphQL service did not start in development mode"; login_gql
fi
[ -n "$GQL_COOKIE" ] || die "graphql login set no cookie: $(cat "$TMP/headers")"

# ---- 2. Data: 60 users through createUser, page 1's endCursor, one user id.
for i in $(seq 1 "$USERS"); do
  post "$GQL_BASE/graphql" "$(gql_body 'mutation { createUser(input: {email: %s, password: %s, firstName: %s, lastName: %s}) { __typename ... on User { id email } ... on Error { message } } }' \
    "bench-user-$i@example.com" "$GQL_USER_PW" "Bench$i" "User$i")" "$GQL_COOKIE"
  r=$(jget "$TMP/body" data.createUser.__typename data.createUser.id data.createUser.email 2>/dev/null | paste -sd' ') || r=
  [ "$CODE" = 200 ] && [ "${r%% *}" = User ] || die "createUser $i: HTTP $CODE $(head -c 400 "$TMP/body")"
  [ "$i" != 1 ] || read -r _ GQL_ID GQL_ID_EMAIL <<< "$r"
done
post "$GQL_BASE/graphql" "$(gql_body 'query { users(first: 20) { totalCount pageInfo { endCursor hasNextPage } edges { node { id } } } }')" "$GQL_COOKIE"
CURSOR=$(jget "$TMP/body" data.users.pageInfo.endCursor 2>/dev/null) && [ "$CURSOR" != null ] ||
  die "users page 1: HTTP $CODE $(head -c 400 "$TMP/body")"
echo "graphql: created $USERS users; totalCount $(jget "$TMP/body" data.users.totalCount); read id $GQL_ID ($GQL_ID_EMAIL); page-1 endCursor $CURSOR"

# Django: admin session (sessionid + csrftoken from the raw Set-Cookie), one user id from page 2.
DJ_LOGIN_BODY=$("$PY3" -c 'import json, sys; print(json.dumps({"email": sys.argv[1], "password": sys.argv[2]}))' "$DJ_EMAIL" "$DJ_PW")
post "$DJ_BASE/login/" "$DJ_LOGIN_BODY"
DJ_COOKIE=$(cookie_from_headers "$TMP/headers")
[ "$CODE" = 200 ] && [[ "$DJ_COOKIE" == *sessionid=* ]] || die "django login: HTTP $CODE $(head -c 400 "$TMP/body")"
get "$DJ_BASE/users/?page=2" "$DJ_COOKIE"
read -r DJ_ID DJ_ID_EMAIL < <(jget "$TMP/body" results.0.id results.0.email 2>/dev/null | paste -sd' ') || true
[ "$CODE" = 200 ] && [ -n "${DJ_ID:-}" ] || die "django GET /users/?page=2: HTTP $CODE $(head -c 400 "$TMP/body")"
echo "django: admin session ok; count $(jget "$TMP/body" count); read id $DJ_ID ($DJ_ID_EMAIL)"

GQL_READ_BODY=$(gql_body 'query { user(id: %s) { id email firstName lastName } }' "$GQL_ID")
GQL_ME_BODY=$(gql_body 'query { me { id email } }')
GQL_LIST_BODY=$(gql_body 'query { users(first: 20, after: %s) { edges { node { id email firstName lastName isStaff } } totalCount } }' "$CURSOR")
GQL_LOGIN_BODY=$(gql_body 'mutation { login(input: {email: %s, password: %s}) { __typename ... on User { id email } ... on Error { message } } }' "$GQL_ADMIN" "$GQL_PW")

scenario() {  # SYS NAME -> C SCRIPT URL, exported COOKIE BODY GRAPHQL EXPECT
  export COOKIE= BODY= GRAPHQL=0 EXPECT=; C=$CONNS; SCRIPT=wrk/post_json.lua
  case $1/$2 in
    django/read)   SCRIPT=wrk/get.lua; URL=$DJ_BASE/users/$DJ_ID/; COOKIE=$DJ_COOKIE; EXPECT=$DJ_ID_EMAIL ;;
    django/list)   SCRIPT=wrk/get.lua; URL="$DJ_BASE/users/?page=2"; COOKIE=$DJ_COOKIE; EXPECT='"results"' ;;
    django/login)  C=$CONNS_LOGIN; URL=$DJ_BASE/login/; BODY=$DJ_LOGIN_BODY; EXPECT=$DJ_EMAIL ;;
    graphql/read)  URL=$GQL_BASE/graphql; GRAPHQL=1; COOKIE=$GQL_COOKIE; BODY=$GQL_READ_BODY; EXPECT=$GQL_ID_EMAIL ;;
    graphql/me)    URL=$GQL_BASE/graphql; GRAPHQL=1; COOKIE=$GQL_COOKIE; BODY=$GQL_ME_BODY; EXPECT=$GQL_ADMIN ;;
    graphql/list)  URL=$GQL_BASE/graphql; GRAPHQL=1; COOKIE=$GQL_COOKIE; BODY=$GQL_LIST_BODY; EXPECT='"totalCount"' ;;
    graphql/login) C=$CONNS_LOGIN; URL=$GQL_BASE/graphql; GRAPHQL=1; BODY=$GQL_LOGIN_BODY; EXPECT=$GQL_ADMIN ;;
    *) die "unknown scenario $1/$2" ;;
  esac
}
check_once() {  # SYS NAME: one request with curl, judged like the Lua response() does
  scenario "$1" "$2"
  if [ "$SCRIPT" = wrk/get.lua ]; then get "$URL" "$COOKIE"; else post "$URL" "$BODY" "$COOKIE"; fi
  [[ "$CODE" == 2?? ]] && { [ "$GRAPHQL" = 0 ] || ! grep -qF '"errors"' "$TMP/body"; } && grep -qF -- "$EXPECT" "$TMP/body" ||
    die "$1 $2 sanity request: HTTP $CODE $(head -c 400 "$TMP/body")"
  case $1/$2 in
    */list) local n; n=$(jget "$TMP/body" results.# 2>/dev/null || jget "$TMP/body" data.users.edges.# 2>/dev/null) || n=none
            [ "$n" = 20 ] || die "$1 list page 2 has $n items, not 20" ;;
  esac
}
for s in read list login; do check_once django $s; done
for s in read me list login; do check_once graphql $s; done
echo "sanity: every scenario answered once as expected"

# ---- 3./4. wrk runs with server CPU and peak RSS sampled from /proc (like ../django_seed/bench.sh).
HZ=$(getconf CLK_TCK); NCPU=$(nproc)
rss_total_kb() { local p k v _; RSS_KB=0
  for p in $RSSPIDS; do
    while read -r k v _; do [ "$k" = VmRSS: ] && { RSS_KB=$((RSS_KB + v)); break; }; done < /proc/"$p"/status 2>/dev/null || true
  done; }
server_jiffies() { local p s f; SJ=0  # utime + stime; fields counted after "(comm) ", which may hold spaces ("npm start")
  for p in $SPIDS; do read -r s < /proc/"$p"/stat 2>/dev/null || continue; read -r -a f <<< "${s##*) }"; SJ=$((SJ + f[11] + f[12])); done; }
busy_jiffies() { local _c u n sy id io irq sirq st _r; read -r _c u n sy id io irq sirq st _r < /proc/stat; BJ=$((u + n + sy + irq + sirq + st)); }
server_sets() {  # SYS -> SPIDS (CPU: whole tree) RSSPIDS (RSS: without the npm/setsid/sh launchers)
  local p c; SPIDS=$(tree_pids "$([ "$1" = django ] && echo "$DJ_PID" || echo "$GQL_PID")"); RSSPIDS=
  for p in $SPIDS; do read -r c < /proc/"$p"/comm 2>/dev/null || continue
    case $c in npm*|setsid|sh|dash|bash) ;; *) RSSPIDS+="$p " ;; esac; done
}
settle() {  # wait (10 s at most) until both servers are idle: requests queued by the last run are done
  local t0=$SECONDS a
  SPIDS="$(tree_pids "$DJ_PID") $(tree_pids "$GQL_PID")"; server_jiffies; a=$SJ
  while [ $((SECONDS - t0)) -lt 10 ]; do
    sleep 0.25; server_jiffies; [ $((SJ - a)) -le 2 ] && return 0; a=$SJ
  done
  echo "  (servers still busy 10 s after the last run)"
}
RES=$TMP/results.tsv; : > "$RES"; : > "$TMP/bad.txt"
run_wrk() {  # SYS NAME ROUND DURATION MEASURE(1|0)
  local sys=$1 name=$2 round=$3 dur=$4 peak=0 sj0 bj0 t0 t1 out=$TMP/wrk/$1-$2-$3-$4.out
  settle; scenario "$sys" "$name"; server_sets "$sys"
  server_jiffies; sj0=$SJ; busy_jiffies; bj0=$BJ; t0=$(date +%s.%N)
  ( TIMEFORMAT='WRKCPU %U %S'; time SCENARIO=$sys-$name wrk -t"$THREADS" -c"$C" -d"$dur" --timeout "$TIMEOUT" \
      --latency -s "$SCRIPT" "$URL" ) > "$out" 2>&1 &
  WPID=$!
  while kill -0 "$WPID" 2>/dev/null; do rss_total_kb; [ "$RSS_KB" -gt "$peak" ] && peak=$RSS_KB; sleep 0.25; done
  wait "$WPID" || { WPID=; cat "$out" >&2; die "wrk failed ($sys $name)"; }
  WPID=; server_jiffies; busy_jiffies; t1=$(date +%s.%N)
  grep -q '^RESULT ' "$out" || { cat "$out" >&2; die "no RESULT line from wrk ($sys $name)"; }
  [ "$MEASURE" = 1 ] || return 0
  local line; line=$(awk -v s="$((SJ - sj0))" -v b="$((BJ - bj0))" -v hz="$HZ" -v t0="$t0" -v t1="$t1" -v peak="$peak" \
    -v sys="$sys" -v name="$name" -v round="$round" -v c="$C" '
    /^WRKCPU/ { w = $2 + $3 }
    /^RESULT / { for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] } }
    END { wall = t1 - t0; sc = s / hz; oc = b / hz - sc - w; if (oc < 0) oc = 0
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%d\t%.2f\t%s\n", sys, name, round, c, r["rps"], r["p50_ms"], r["p99_ms"],
        r["requests"], r["bad"], r["sockerr"], (r["requests"] + 0 > 0 ? sc * 1000 / r["requests"] : 0), peak, oc / wall, r["statuses"] }' "$out")
  echo "$line" >> "$RES"
  echo "$line" | awk -F'\t' '{ printf "  r%s %-5s %-7s -c%-3s %8.1f req/s  p50 %7.1f  p99 %7.1f ms  cpu %6.2f ms/req  rss %6.1f MiB  bad %s  sockerr %s  other %.2f cores  [%s]\n",
    $3, $2, $1, $4, $5, $6, $7, $11, $12 / 1024, $9, $10, $13, $14 }'
  if [ "$(echo "$line" | cut -f9)" != 0 ] || [ "$(echo "$line" | cut -f10)" != 0 ]; then
    { echo "r$round $sys $name: $(echo "$line" | cut -f9) bad responses, $(echo "$line" | cut -f10) socket errors of $(echo "$line" | cut -f8) requests"
      sed -n 's/^BAD /    e.g. /p' "$out"; } | tee -a "$TMP/bad.txt" | sed 's/^/  ERROR /' >&2
  fi
}

echo
echo "# side-by-side $(date -u +%Y-%m-%dT%H:%M:%SZ)  cores=$NCPU  cpu: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
echo "# wrk -t$THREADS -d$DURATION --timeout $TIMEOUT --latency, $ROUNDS rounds interleaved (django then graphql per scenario), warm-up $WARMUP per scenario in round 1"
echo "# django : gunicorn 2 sync workers, $(cat "$DJ_DIR/run/config"), $DJ_BASE, pid $DJ_PID"
echo "# graphql: $PROJECT ($(git -C "$PROJECT" rev-parse --short HEAD 2>/dev/null || echo no git)), node $(node -v), NODE_ENV=${GQL_MODE/development/unset}, WEB_CONCURRENCY=$GQL_WEB_CONCURRENCY${GQL_ENV:+ $GQL_ENV}, BCRYPT_COST=$GQL_BCRYPT_COST, $USERS users + admin, $GQL_BASE, pid $GQL_PID"
[ -z "$GQL_NOTE" ] || echo "# WARNING: $GQL_NOTE"
for round in $(seq 1 "$ROUNDS"); do
  for s in read me list login; do
    for sys in django graphql; do
      [ "$sys/$s" != django/me ] || continue
      if [ "$round" = 1 ] && [ "$WARMUP" != 0 ]; then MEASURE=0 run_wrk "$sys" "$s" "$round" "$WARMUP"; fi
      MEASURE=1 run_wrk "$sys" "$s" "$round" "$DURATION"
    done
  done
done
echo "# VmHWM (lifetime peak RSS) per server process at the end:"
for sys in django graphql; do
  server_sets "$sys"
  for p in $SPIDS; do
    echo "#   $sys pid $p $(tr '\0' ' ' < /proc/"$p"/cmdline | cut -c1-50): $(awk '/^VmHWM/{printf "%.1f MiB", $2/1024}' /proc/"$p"/status)$([[ " $RSSPIDS " == *" $p "* ]] || echo " (launcher, not counted)")"
  done
done

if [ -s "$TMP/bad.txt" ]; then
  { echo "--- graphql server log (tail):"; tail -n 20 "$GQL_LOG"; echo "--- gunicorn log (tail):"
    tail -n 5 "$DJ_DIR/run/gunicorn.log"; sed 's/^/ERROR /' "$TMP/bad.txt"; } >&2
fi
# ---- 6. Stop both servers before the table, so that the summary line ends the output
# (on failure the EXIT trap stops them).
stop_gql; stop_django

# ---- 5. Table and summary line.
echo
"$PY3" - "$RES" "$ROUNDS" "$GQL_NOTE" <<'EOF'
import sys, statistics as st
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()]
rounds, note = int(sys.argv[2]), sys.argv[3]
nbad = sum(int(r[8]) + int(r[9]) for r in rows)
R = {}
for sysn, name, rnd, c, rps, p50, p99, req, bad, sock, cpu, rss, other, _ in rows:
    R.setdefault((sysn, name), []).append(dict(round=int(rnd), c=c, rps=float(rps), p99=float(p99), bad=int(bad) + int(sock),
                                               cpu=float(cpu), rss=int(rss) / 1024, other=float(other)))
med = lambda xs: st.median(xs) if xs else None
def x(r): return '-' if r is None else ('x%.1f' % r if r >= 1 else 'x%.2f' % r)
def f(v, fmt): return '-' if v is None else fmt % v
hdr = ('scenario', 'conns', 'dj req/s', 'gql req/s', 'ratio gql/dj per round', 'median', 'dj p99', 'gql p99',
       'dj cpu', 'gql cpu', 'dj RSS', 'gql RSS', 'bad dj/gql', 'noise')
fmt = '%-8s %5s %9s %9s  %-24s %7s %8s %8s %7s %7s %7s %7s %10s %5s'
print(fmt % hdr)
summary = []
for name in ('read', 'me', 'list', 'login'):
    d, g = R.get(('django', name), []), R.get(('graphql', name), [])
    if not d and not g: continue
    dr = {r['round']: r['rps'] for r in d}
    ratios = [r['rps'] / dr[r['round']] for r in g if dr.get(r['round'])]
    m = med(ratios) if d else None
    if m is not None: summary.append('%s %s' % (name, x(m)))
    agg = lambda L, k, fn=med: fn([r[k] for r in L]) if L else None
    print(fmt % (name, (d or g)[0]['c'], f(agg(d, 'rps'), '%.1f'), f(agg(g, 'rps'), '%.1f'),
                 ' '.join(x(r) for r in ratios) if d else '-', x(m), f(agg(d, 'p99'), '%.1f'), f(agg(g, 'p99'), '%.1f'),
                 f(agg(d, 'cpu'), '%.2f'), f(agg(g, 'cpu'), '%.2f'), f(agg(d, 'rss', max), '%.1f'), f(agg(g, 'rss', max), '%.1f'),
                 '%s/%s' % (f(agg(d, 'bad', sum), '%d'), f(agg(g, 'bad', sum), '%d')), f(max(r['other'] for r in d + g), '%.2f')))
print('(req/s, p99 ms, cpu ms/req: medians of %d rounds; RSS: peak MiB over the runs, server processes only;' % rounds)
print(' bad: non-2xx, GraphQL "errors", unexpected bodies and socket errors, summed; noise: max cores busy')
print(' with other processes during a run (> 0.15: noisy, rerun); cpu ms/req: server CPU per completed request)')
print('%s (medians of %d interleaved rounds)%s%s' % (', '.join(summary), rounds, ' [%s]' % note if note else '',
      ' -- INVALID: %d bad responses/socket errors, see ERROR lines' % nbad if nbad else ''))
EOF
[ ! -s "$TMP/bad.txt" ] || exit 2
