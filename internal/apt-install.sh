# Sourced by internal/realm/install-deps.sh and debian/install-build-deps.sh.
#
# apt_install_missing TAG PKG...: installs those of PKG that are not
# installed, non-interactively, keeping local conffiles and with no
# service started by a postinst (a temporary policy-rc.d). TAG prefixes
# the messages. Runs apt_preinstall first if the caller defines it. Needs
# root only when something is missing; fails otherwise, naming what.
apt_install_missing() {
  local tag=$1
  shift
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -gt 0 ] || return 0

  if [ "$(id -u)" != 0 ]; then
    echo "$tag: missing packages: ${missing[*]}; run as root (or install them) first" >&2
    return 1
  fi
  echo "$tag: installing ${missing[*]}" >&2
  # A subshell, so that the trap removes policy-rc.d whatever happens.
  (
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      made_policy=1
    fi
    trap '[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
    export DEBIAN_FRONTEND=noninteractive
    if declare -F apt_preinstall >/dev/null; then
      apt_preinstall
    fi
    apt-get update -qq
    apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      --no-install-recommends "${missing[@]}" >/dev/null
  )
  echo "$tag: done" >&2
}
