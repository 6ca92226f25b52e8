#!/usr/bin/env bash
# Install what HallTwin needs, and only what is missing. Quiet when there is nothing to do.
#
#   scripts/install.sh          what `make run` needs: Debian libzbar0 and dlib's build tools,
#                               .venv (python3.11 or python3 >= 3.11) with halltwin[test] installed
#   scripts/install.sh --test   the same, plus Debian's chromium and fonts-noto-cjk (for Playwright) and nginx
#   scripts/install.sh --cluster   what `make run` needs, plus Debian's nginx (for `make cluster`)
#
# Debian packages are checked with `dpkg -s`; apt-get runs only when one is missing, and only as
# root (otherwise the command to run is printed). pip runs only when pyproject.toml changed since
# the last successful install (the stamp .venv/.halltwin-installed holds its sha256). pip's cache in
# ~/.cache/pip is kept on purpose: it holds the dlib wheel that took ~12 minutes to build.
# Never runs `playwright install`: the tests use Debian's /usr/bin/chromium.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
STAMP="$VENV/.halltwin-installed"
MIN_PYTHON=(3 11)
export DEBIAN_FRONTEND=noninteractive
export PIP_NO_INPUT=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

profile=run
case "${1:-}" in
  '') ;;
  --test) profile='test' ;;
  --cluster) profile='cluster' ;;
  *) echo "usage: $0 [--test | --cluster]" >&2; exit 2 ;;
esac

say() { printf 'install: %s\n' "$*"; }
is_root() { [[ $(id -u) -eq 0 ]]; }

# ---- Debian packages -------------------------------------------------------------------------

deb_installed() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

apt_updated=no
# Install the given Debian packages that are missing (as root), or say how to (otherwise).
deb_ensure() {
  command -v dpkg >/dev/null 2>&1 || return 0
  local missing=() pkg
  for pkg in "$@"; do
    deb_installed "$pkg" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  if ! is_root; then
    say "missing Debian packages: ${missing[*]}" >&2
    say "run: sudo apt-get install -y ${missing[*]}" >&2
    return 0
  fi
  say "apt-get install ${missing[*]}"
  if [[ $apt_updated == no ]]; then
    apt-get update -q >/dev/null
    apt_updated=yes
  fi
  apt-get install -y -q "${missing[@]}" >/dev/null
  say "installed ${missing[*]}"
}

if ! command -v dpkg >/dev/null 2>&1; then
  say 'not a Debian system: make sure libzbar0, a C++ compiler, cmake and Python headers are installed' >&2
fi

debs=(libzbar0 build-essential cmake python3-dev)
if [[ $profile == test ]]; then
  debs+=(chromium fonts-noto-cjk nginx)
elif [[ $profile == cluster ]]; then
  debs+=(nginx)
fi
deb_ensure "${debs[@]}"

# ---- Python and the virtual environment ------------------------------------------------------

python_ok() {
  "$1" -c "import sys; sys.exit(sys.version_info[:2] < (${MIN_PYTHON[0]}, ${MIN_PYTHON[1]}))" 2>/dev/null
}

find_python() {
  local candidate
  for candidate in ${PYTHON:-} python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
      "$candidate" -c 'import sys; print(sys.executable)'  # the real binary, not a pyenv shim
      return 0
    fi
  done
  return 1
}

if [[ ! -x $VENV/bin/python ]]; then
  if ! python=$(find_python); then
    if is_root && command -v apt-get >/dev/null 2>&1; then
      deb_ensure python3 python3-venv
    fi
    python=$(find_python) || {
      echo "install: HallTwin needs python3.11 (or python3 >= 3.11); none found on PATH" >&2
      exit 1
    }
  fi
  # Debian splits ensurepip (needed by `python -m venv`) into python3-venv.
  if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    deb_ensure python3-venv
  fi
  say "creating $VENV with $python ($("$python" -c 'import platform; print(platform.python_version())'))"
  "$python" -m venv "$VENV"
fi

VPY=$VENV/bin/python

# ---- Python packages (skipped entirely when the stamp matches) -------------------------------

want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ -f $STAMP && $(<"$STAMP") == "$want" ]]; then
  exit 0
fi

if ! "$VPY" -c 'import dlib' 2>/dev/null; then
  if find "${HOME:-/root}/.cache/pip/wheels" -name 'dlib-*.whl' -print -quit 2>/dev/null | grep -q .; then
    say 'dlib: reusing the wheel pip built before (~/.cache/pip/wheels)'
  else
    say 'note: dlib is compiled from source once, about 12 minutes on 2 cores, with little output;'
    say '      pip keeps the built wheel in ~/.cache/pip/wheels, so later installs take seconds'
  fi
fi

say "pip install halltwin[test] into $VENV (pyproject.toml changed or first install)"
before=$(mktemp)
after=$(mktemp)
ticker=
cleanup() {
  rm -f "$before" "$after"
  if [[ -n $ticker ]]; then kill "$ticker" 2>/dev/null || true; fi
}
trap cleanup EXIT
"$VPY" -m pip freeze --all 2>/dev/null | sort >"$before" || true

# A heartbeat so CI does not give up during the long, silent dlib build.
start=$SECONDS
# On TERM the trap also ends the pending `sleep`, so nothing lingers holding stdout open.
(
  nap=
  trap 'if [[ -n $nap ]]; then kill "$nap" 2>/dev/null; wait "$nap" 2>/dev/null; fi; exit 0' TERM
  while :; do
    sleep 60 >/dev/null 2>&1 &
    nap=$!
    wait "$nap"
    say "... still installing ($((SECONDS - start)) s)"
  done
) &
ticker=$!

# -qq: errors only (a failed build still prints its log); what changed is listed below.
"$VPY" -m pip install -qq --progress-bar off 'setuptools<81' wheel
"$VPY" -m pip install -qq --progress-bar off -e '.[test]'

kill "$ticker" 2>/dev/null || true
wait "$ticker" 2>/dev/null || true
ticker=

"$VPY" -m pip freeze --all 2>/dev/null | sort >"$after" || true
changes=$(comm -13 "$before" "$after" | grep -v -i '^-e \|^# editable' || true)
if [[ -n $changes ]]; then
  say "installed or changed ($(wc -l <<<"$changes")):"
  paste -sd' ' <<<"$changes" | fold -s -w 100 | sed 's/^/  /'
else
  say 'all Python packages were already installed'
fi

printf '%s\n' "$want" >"$STAMP"
say "done in $((SECONDS - start)) s (stamp $STAMP)"
