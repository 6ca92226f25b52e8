#!/usr/bin/env bash
# Make sure the services the tests use are up, and only act when one is not:
#   Redis       127.0.0.1:6379   (no persistence)
#   PostgreSQL  127.0.0.1:5432   database `test`, user postgres, trust auth on 127.0.0.1
# A missing server is installed with apt-get (as root). Services never auto-start from apt here
# (policy-rc.d), so they are started by hand. Quiet when everything is already up.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

say() { printf 'services: %s\n' "$*"; }
die() { printf 'services: %s\n' "$*" >&2; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }

apt_updated=no
apt_install() {
  is_root || die "not installed: $*; run: sudo apt-get install -y $*"
  command -v apt-get >/dev/null 2>&1 || die "not installed: $* (and no apt-get to install it)"
  say "apt-get install $*"
  if [[ $apt_updated == no ]]; then
    apt-get update -q >/dev/null
    apt_updated=yes
  fi
  apt-get install -y -q "$@" >/dev/null
}

# wait_for SECONDS COMMAND...: true as soon as COMMAND succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# ---- Redis -------------------------------------------------------------------------------------

redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [[ $(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null) == PONG ]]
  else
    # No redis-cli: speak RESP over bash's /dev/tcp.
    (
      exec 3<>/dev/tcp/127.0.0.1/6379 || exit 1
      printf 'PING\r\n' >&3
      IFS= read -r -t 2 reply <&3 && [[ $reply == +PONG* ]]
    ) 2>/dev/null
  fi
}

if ! redis_up; then
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  say 'starting redis-server on 127.0.0.1:6379'
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null
  wait_for 10 redis_up || die 'redis-server did not answer PING on 127.0.0.1:6379 within 10 s'
  say 'redis is up'
fi

# ---- PostgreSQL --------------------------------------------------------------------------------

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
pg_version() { { find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null || true; } | sort -V | tail -n 1; }
# psql as the superuser without ever prompting for a password (CI has no stdin).
pg_sql() { psql -h 127.0.0.1 -p 5432 -U postgres -w -X -q -At -d postgres "$@"; }

fresh_cluster=no
if ! command -v pg_isready >/dev/null 2>&1 || ! pg_up; then
  if [[ -z $(pg_version) ]] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt_install postgresql
    fresh_cluster=yes
  fi
  version=$(pg_version)
  [[ -n $version ]] || die 'PostgreSQL is installed but /etc/postgresql has no version'
  if [[ ! -d /etc/postgresql/$version/main ]]; then
    say "creating cluster $version/main"
    pg_createcluster "$version" main >/dev/null
    fresh_cluster=yes
  fi
  if ! pg_up; then
    say "starting PostgreSQL $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_for 30 pg_up || die 'PostgreSQL did not accept connections on 127.0.0.1:5432 within 30 s'
    say 'postgresql is up'
  fi
fi

# The tests connect as postgres@127.0.0.1 without a password. A cluster we just created (or any
# cluster on a CI machine, as root) is switched to trust auth for local TCP connections.
if ! pg_sql -c 'select 1' >/dev/null 2>&1; then
  version=$(pg_version)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if is_root && [[ -f $hba ]] && [[ $fresh_cluster == yes || ${CI:-} == true ]]; then
    say "enabling trust auth for 127.0.0.1 and ::1 in $hba (test machine)"
    tmp=$(mktemp)
    {
      echo '# HallTwin test machine: trust local TCP connections (added by scripts/services.sh)'
      echo 'host all all 127.0.0.1/32 trust'
      echo 'host all all ::1/128 trust'
      cat "$hba"
    } >"$tmp"
    cat "$tmp" >"$hba"
    rm -f "$tmp"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    wait_for 10 pg_sql -c 'select 1' >/dev/null 2>&1 \
      || die 'still cannot connect as postgres@127.0.0.1 after enabling trust auth'
  else
    die 'cannot connect as postgres@127.0.0.1:5432 without a password; the tests need trust auth:
  add "host all all 127.0.0.1/32 trust" at the top of pg_hba.conf and reload PostgreSQL'
  fi
fi

if [[ $(pg_sql -c "select 1 from pg_database where datname = 'test'") != 1 ]]; then
  say "creating database test"
  pg_sql -c 'create database test'
fi
