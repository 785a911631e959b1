# Sourced by scripts that need a Postfix of their own (mail interop and the
# ingest benchmark). Nothing here touches the system's Postfix configuration
# in /etc/postfix or listens on port 25:
#
#   ensure_postfix
#       installs Postfix (apt, "No configuration") if it is missing, and
#       stops the system instance if it runs.
#   start_private_postfix PORT DOMAIN USERS [main.cf lines...]
#       starts a throw-away Postfix instance (own config, queue and log
#       directories under one temp dir, no chroot) whose smtpd listens on
#       127.0.0.1:PORT only. It is the final destination for DOMAIN: each of
#       the space-separated USERS gets a Maildir, other local parts are
#       refused at RCPT. Extra main.cf lines (e.g. relay_domains) are
#       appended last; PF_TRANSPORT, if set, holds transport map entries
#       (e.g. "guss.test smtp:[127.0.0.1]:2525"). Sets PF_DIR (the temp dir),
#       PF_CONF (its config dir, for `postqueue -c`), PF_LOG (its mail log)
#       and PF_MAILDIR (USER's Maildir is "$PF_MAILDIR/USER/"). The instance is
#       stopped and removed by stop_private_postfix (call it from a trap).
#   postfix_flush, postfix_queue_empty, postfix_wait_queue_empty SECONDS
#       act on the private instance's queue.
#   maildir_count USER
#       the number of messages delivered to USER's Maildir.

PF_DIR=""
PF_CONF=""
PF_LOG=""
PF_MAILDIR=""

ensure_postfix() {
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if ! command -v postfix >/dev/null || ! command -v smtp-source >/dev/null; then
    echo "postfix postfix/main_mailer_type select No configuration" | "${sudo[@]}" debconf-set-selections
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
  fi
  command -v smtp-source >/dev/null || { echo "postfix is installed but smtp-source is missing" >&2; return 1; }
  # "No configuration" starts no system instance; one that runs (installed
  # with a configuration, or started since) must not stay on port 25.
  if [ -f /etc/postfix/main.cf ] && "${sudo[@]}" postfix status >/dev/null 2>&1; then
    echo "stopping the system's Postfix (the mail scripts run their own on loopback ports)"
    "${sudo[@]}" service postfix stop >/dev/null 2>&1 || "${sudo[@]}" postfix stop >/dev/null 2>&1 || true
  fi
}

start_private_postfix() {
  local port="$1" domain="$2" users="$3"
  shift 3
  [ "$(id -u)" -eq 0 ] || { echo "a private Postfix instance needs root" >&2; return 1; }
  PF_DIR="$(mktemp -d /tmp/guss-scripts-postfix.XXXXXXXX)"
  chmod 755 "$PF_DIR"
  PF_CONF="$PF_DIR/etc"
  PF_LOG="$PF_DIR/maillog"
  PF_MAILDIR="$PF_DIR/vmail"
  mkdir -p "$PF_CONF" "$PF_DIR/spool" "$PF_DIR/lib" "$PF_MAILDIR"
  chown postfix "$PF_DIR/lib"
  chown 65534:65534 "$PF_MAILDIR"
  local user
  : >"$PF_CONF/mailboxes"
  for user in $users; do
    printf '%s@%s %s/\n' "$user" "$domain" "$user" >>"$PF_CONF/mailboxes"
  done
  printf '%s\n' "${PF_TRANSPORT:-}" >"$PF_CONF/transport"
  cat >"$PF_CONF/main.cf" <<EOF
# A throw-away instance for guss's mail interop scripts.
compatibility_level = 3.6
queue_directory = $PF_DIR/spool
data_directory = $PF_DIR/lib
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-guss-$port
maillog_file = $PF_LOG
maillog_file_prefixes = $PF_DIR
myhostname = postfix.$domain
mydomain = $domain
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
local_transport = error:5.1.1 no local delivery in this instance
alias_maps =
alias_database =
biff = no
smtpd_peername_lookup = no
smtpd_banner = \$myhostname ESMTP
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
virtual_mailbox_domains = $domain
virtual_mailbox_base = $PF_MAILDIR
virtual_mailbox_maps = texthash:$PF_CONF/mailboxes
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
transport_maps = texthash:$PF_CONF/transport
smtp_tls_security_level = may
smtp_tls_loglevel = 1
# Fast retries: the scripts wait for delivery in seconds, not minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 5s
delay_warning_time = 0
EOF
  local line
  for line in "$@"; do
    printf '%s\n' "$line" >>"$PF_CONF/main.cf"
  done
  # Debian's master.cf, without chroot (the queue directory holds no copy of
  # /etc) and with smtpd on 127.0.0.1:PORT instead of port 25.
  awk -v listen="127.0.0.1:$port" '
    /^#/ || /^[ \t]/ || NF < 8 { print; next }
    $1 == "smtp" && $2 == "inet" { $1 = listen }
    { $5 = "n"; print }
  ' /etc/postfix/master.cf >"$PF_CONF/master.cf"
  postfix -c "$PF_CONF" check >/dev/null 2>"$PF_DIR/check.log" ||
    { cat "$PF_DIR/check.log" >&2; echo "postfix -c $PF_CONF check failed" >&2; return 1; }
  postfix -c "$PF_CONF" start >/dev/null 2>"$PF_DIR/start.log" ||
    { cat "$PF_DIR/start.log" >&2; echo "the private Postfix did not start" >&2; return 1; }
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  tail -n 20 "$PF_LOG" >&2 || true
  echo "the private Postfix is not listening on 127.0.0.1:$port" >&2
  return 1
}

stop_private_postfix() {
  [ -n "$PF_DIR" ] || return 0
  if [ -f "$PF_DIR/spool/pid/master.pid" ]; then
    postfix -c "$PF_CONF" stop >/dev/null 2>&1 || true
    # `postfix stop` returns before every child has gone: wait for master.
    local pid i
    pid="$(tr -dc 0-9 <"$PF_DIR/spool/pid/master.pid" 2>/dev/null || true)"
    for i in $(seq 1 50); do
      [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && postfix -c "$PF_CONF" abort >/dev/null 2>&1
  fi
  [ -n "${KEEP_POSTFIX:-}" ] && { echo "kept the private Postfix directory $PF_DIR"; PF_DIR=""; return 0; }
  rm -rf "$PF_DIR"
  PF_DIR=""
}

postfix_flush() {
  postqueue -c "$PF_CONF" -f
}

postfix_queue_empty() {
  # postqueue -p lists the active, incoming and deferred queues; counting
  # files avoids parsing its output.
  [ -z "$(find "$PF_DIR/spool/incoming" "$PF_DIR/spool/active" "$PF_DIR/spool/deferred" "$PF_DIR/spool/maildrop" -type f -print -quit 2>/dev/null)" ]
}

postfix_wait_queue_empty() {
  local seconds="$1" i
  for i in $(seq 1 $((seconds * 20))); do
    postfix_queue_empty && return 0
    sleep 0.05
  done
  return 1
}

maildir_count() {
  local dir="$PF_MAILDIR/$1"
  [ -d "$dir" ] || { echo 0; return 0; }
  find "$dir/new" "$dir/cur" -type f 2>/dev/null | wc -l
}
