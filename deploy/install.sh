#!/usr/bin/env bash
# Install inference-watchdog as a systemd service.
#
#   sudo deploy/install.sh
#
# Creates the system user inference-watchdog, copies this source tree to
# /opt/inference-watchdog/src, builds a virtual environment at
# /opt/inference-watchdog/venv with an editable install of that copy (the
# Alembic migrations are found beside the package there), installs the
# example config (never overwriting an existing one) and the systemd unit.
# It does not start the service: edit the config and add the Slack token
# first, as the last lines it prints say. Running it again upgrades the code
# and keeps the config, the token and the state.
#
# Environment:
#   PYTHON      interpreter for the virtual environment (default python3, 3.11 or newer)
#   DESTDIR     stage every file under this directory instead of /, for
#               packaging or tests; the user goes into DESTDIR/etc/passwd
#               (useradd --prefix), nothing is chowned and systemctl is not run
#   SKIP_VENV   1 skips the virtual environment, which needs the package index
set -euo pipefail

readonly SERVICE=inference-watchdog
readonly SERVICE_USER=inference-watchdog
readonly PREFIX=/opt/inference-watchdog
readonly CONFIG_DIR=/etc/inference-watchdog
readonly STATE_DIR=/var/lib/inference-watchdog
readonly UNIT_DIR=/etc/systemd/system

SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
DESTDIR="${DESTDIR:-}"
SKIP_VENV="${SKIP_VENV:-0}"

log() {
    printf 'install.sh: %s\n' "$*"
}

fail() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 1
}

check_prerequisites() {
    if [[ -z "$DESTDIR" && "$(id -u)" -ne 0 ]]; then
        fail "run as root (sudo $0), or set DESTDIR to stage the files elsewhere"
    fi
    [[ -f "$SOURCE_DIR/pyproject.toml" && -d "$SOURCE_DIR/watchdog" && -d "$SOURCE_DIR/migrations" ]] ||
        fail "no inference-watchdog source tree at $SOURCE_DIR: run the script from its deploy/ directory"
    if [[ "$SKIP_VENV" != 1 ]]; then
        command -v "$PYTHON" >/dev/null || fail "$PYTHON not found: install Python 3.11 or set PYTHON"
        "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
            fail "$PYTHON is older than 3.11: set PYTHON to a Python 3.11 or newer"
        "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null ||
            fail "$PYTHON has no venv module: install it (Debian: apt-get install python3-venv)"
    fi
}

create_user() {
    local passwd_file="$DESTDIR/etc/passwd"
    if grep -q "^${SERVICE_USER}:" "$passwd_file" 2>/dev/null; then
        log "user $SERVICE_USER exists"
        return
    fi
    local prefix_args=()
    if [[ -n "$DESTDIR" ]]; then
        prefix_args=(--prefix "$DESTDIR")
    fi
    useradd ${prefix_args[@]+"${prefix_args[@]}"} --system --user-group --no-create-home \
        --home-dir "$STATE_DIR" --shell /usr/sbin/nologin \
        --comment "inference-watchdog daemon" "$SERVICE_USER"
    log "created system user $SERVICE_USER"
}

copy_source() {
    local target="$DESTDIR$PREFIX/src"
    local staging="$DESTDIR$PREFIX/src.new"
    rm -rf "$staging"
    mkdir -p "$staging"
    # The daemon reads only the package and the migrations; docs and deploy
    # files come along for operators. Local state and caches stay behind.
    tar -C "$SOURCE_DIR" \
        --exclude=.venv --exclude=.git --exclude=__pycache__ --exclude='*.egg-info' \
        --exclude=.pytest_cache --exclude=.mypy_cache --exclude=.ruff_cache --exclude=state \
        -cf - pyproject.toml README.md watchdog migrations deploy docs |
        tar -C "$staging" -xf -
    rm -rf "$target"
    mv "$staging" "$target"
    chmod -R u=rwX,go=rX "$target"
    log "copied the source tree to $PREFIX/src"
}

build_venv() {
    if [[ "$SKIP_VENV" == 1 ]]; then
        log "SKIP_VENV=1: no virtual environment built"
        return
    fi
    local venv="$DESTDIR$PREFIX/venv"
    if [[ ! -x "$venv/bin/python" ]]; then
        "$PYTHON" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    # Editable: the package stays in $PREFIX/src, where it finds its migrations.
    "$venv/bin/python" -m pip install --quiet --editable "$DESTDIR$PREFIX/src"
    log "virtual environment ready: $PREFIX/venv/bin/$SERVICE"
}

install_config() {
    local config_dir="$DESTDIR$CONFIG_DIR"
    install -d -m 0750 "$config_dir"
    install -d -m 0700 "$config_dir/credentials"
    install -m 0640 "$SOURCE_DIR/deploy/config.example.toml" "$config_dir/config.example.toml"
    if [[ -e "$config_dir/config.toml" ]]; then
        log "kept the existing $CONFIG_DIR/config.toml"
    else
        install -m 0640 "$SOURCE_DIR/deploy/config.example.toml" "$config_dir/config.toml"
        log "installed $CONFIG_DIR/config.toml from the example"
    fi
    if [[ -z "$DESTDIR" ]]; then
        # The daemon reads the config as its group; only root reads the token.
        chown root:"$SERVICE_USER" "$config_dir" "$config_dir/config.toml" "$config_dir/config.example.toml"
        chown root:root "$config_dir/credentials"
    fi
}

install_unit() {
    install -d -m 0755 "$DESTDIR$UNIT_DIR"
    install -m 0644 "$SOURCE_DIR/deploy/$SERVICE.service" "$DESTDIR$UNIT_DIR/$SERVICE.service"
    log "installed $UNIT_DIR/$SERVICE.service"
    if [[ -z "$DESTDIR" ]]; then
        systemctl daemon-reload
    fi
}

main() {
    check_prerequisites
    create_user
    copy_source
    build_venv
    install_config
    install_unit
    cat <<NEXT
install.sh: done. Next:
  1. edit $CONFIG_DIR/config.toml (the worker command, its memory limit, AWS region)
  2. put the Slack bot token in $CONFIG_DIR/credentials/slack.bot_token (mode 0600)
  3. systemctl enable --now $SERVICE
  4. journalctl -u $SERVICE -f
NEXT
}

main "$@"
