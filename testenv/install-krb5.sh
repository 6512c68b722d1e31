#!/usr/bin/env bash
# Installs MIT Kerberos client tools (kinit, klist, kdestroy) from Debian's krb5-user, for the Kerberized test
# cluster's health checks and tests. Without recommends: krb5-config would write an /etc/krb5.conf for the whole
# machine; every test-cluster tool gets its own krb5.conf through KRB5_CONFIG or -Djava.security.krb5.conf instead.
set -euo pipefail
if command -v kinit >/dev/null && command -v klist >/dev/null; then exit 0; fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing MIT Kerberos client tools (Debian package krb5-user)" >&2
install() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends krb5-user >/dev/null 2>&1; }
install || { $sudo apt-get update -qq >/dev/null && install; }
command -v kinit >/dev/null && command -v klist >/dev/null
