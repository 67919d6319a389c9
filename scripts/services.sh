#!/usr/bin/env bash
# Start the real services golive's tests talk to, installing them from Debian if missing.
# Idempotent: a service that already answers is left alone.
set -euo pipefail

log() { printf 'services: %s\n' "$*" >&2; }
apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || { log "cannot install $* (no apt-get): install it yourself"; return 1; }
  if [ "$apt_updated" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

postgres_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
start_postgres() {
  if postgres_up; then return 0; fi
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do postgres_up && return 0; sleep 1; done
  log "PostgreSQL did not come up on 127.0.0.1:5432"; return 1
}

mariadb_up() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; }
start_mariadb() {
  if mariadb_up; then return 0; fi
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
  log "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 1 30); do mariadb_up && return 0; sleep 1; done
  log "MariaDB did not come up on 127.0.0.1:3306"; return 1
}

# --- sshd for the ssh action's tests: installed only; each test session starts its own sshd
# (golive.testing.ssh.Sshd) on a free loopback port, with throwaway keys in a temporary directory.
install_sshd() {
  if [ -x /usr/sbin/sshd ]; then return 0; fi
  log "installing openssh-server (the ssh tests start their own sshd)"
  apt_install openssh-server
}

# --- nginx for the traffic action's tests (issue 7): installed only; each test starts its own
# nginx (tests/traffic/conftest.py) with `-p PREFIX -c CONF` on free loopback ports. The system
# nginx service is not started: Debian's package starts it on port 80, so stop it if it did.
install_nginx() {
  if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then return 0; fi
  log "installing nginx (the traffic tests start their own nginx)"
  apt_install nginx
  if [ -f /run/nginx.pid ]; then nginx -s quit 2>/dev/null || true; fi
}

# --- Prometheus for the traffic action's optional Prometheus source (issue 7): installed only;
# the test starts its own (golive.testing.prometheus.PrometheusServer) on a free loopback port.
install_prometheus() {
  if command -v prometheus >/dev/null || [ -x /usr/bin/prometheus ]; then return 0; fi
  log "installing prometheus (the traffic tests start their own)"
  apt_install --no-install-recommends prometheus
}

# --- bind9 for the dns step's tests (issue 17): installed only; each test starts its own
# `named -g -c CONF` (golive.testing.bind.BindServer) on a free loopback port, with a throwaway
# zone and TSIG key. The system service is not started: stop it if the package started it.
install_bind9() {
  if command -v named >/dev/null || [ -x /usr/sbin/named ]; then return 0; fi
  log "installing bind9 (the dns tests start their own named)"
  apt_install --no-install-recommends bind9 bind9-utils
  if [ -f /run/named/named.pid ]; then kill "$(cat /run/named/named.pid)" 2>/dev/null || true; fi
}

# --- dockerd for the docker action's tests (issue 17): Debian's docker.io, docker-compose (v1;
# bookworm has no compose v2 plugin) and busybox-static (the tests build tiny images from it, no
# registry needed). dockerd is started on its default socket if nothing answers there; where it
# cannot run (no privileges, no cgroups) the docker tests skip and say why.
docker_up() { docker info >/dev/null 2>&1; }
install_docker() {
  [ -x /usr/sbin/dockerd ] || { log "installing docker.io"; apt_install docker.io; }
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 \
    || { log "installing docker-compose"; apt_install docker-compose; }
  [ -x /bin/busybox ] || apt_install busybox-static
  if docker_up; then return 0; fi
  log "starting dockerd"
  mkdir -p /var/log
  nohup /usr/sbin/dockerd --pidfile /run/golive-dockerd.pid >/var/log/golive-dockerd.log 2>&1 &
  for _ in $(seq 1 30); do docker_up && return 0; sleep 1; done
  log "dockerd did not start (see /var/log/golive-dockerd.log): the docker tests will skip"
  return 0
}

start_postgres
start_mariadb
install_sshd
install_nginx
install_prometheus
install_bind9
install_docker
log "ready"
