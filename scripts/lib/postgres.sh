# Sourced by scripts that need a PostgreSQL server of their own:
# `start_private_postgres` starts a throw-away cluster on a free loopback
# port and sets PG_URL; the cluster is stopped and removed on exit.

start_private_postgres() {
  local bin dir port
  bin="$(dirname "$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1)")"
  [ -x "$bin/initdb" ] || { echo "no PostgreSQL found (apt-get install postgresql)" >&2; return 1; }
  # PostgreSQL refuses to run as root: then the cluster belongs to postgres.
  local owner=()
  [ "$(id -u)" -eq 0 ] && owner=(runuser -u postgres --)
  dir="$("${owner[@]}" mktemp -d /tmp/guss-scripts-pg.XXXXXXXX)"
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "${owner[@]}" "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --no-locale >/dev/null
  "${owner[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
  PG_STOP="${owner[*]} $bin/pg_ctl -D $dir -m immediate stop >/dev/null 2>&1; rm -rf $dir"
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

stop_private_postgres() {
  [ -n "${PG_STOP:-}" ] && eval "$PG_STOP"
  PG_STOP=""
}
