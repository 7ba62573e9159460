#!/usr/bin/env bash
# Local TLS certificates for https://localhost: a CA plus a leaf certificate.
#   scripts/certs.sh [DIR]      (default: certs/ at the repo root)
# Writes DIR/ca.crt (and DIR/ca.key for the openssl CA), DIR/localhost.crt, DIR/localhost.key.
# Leaf: ECDSA P-256, SANs localhost, 127.0.0.1, ::1, valid 365 days (browsers accept <= 397).
# With mkcert installed, its CA is used (mkcert -install makes browsers trust it); otherwise an
# openssl CA, name-constrained to localhost and loopback, and the script prints how to trust it.
# Idempotent: keeps a valid certificate it issued, renews one that expires within 30 days, and
# never overwrites a certificate it did not issue (your own or a real one).
# CERTS_USE_MKCERT=auto|never (default auto).
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-"$root/certs"}
use_mkcert=${CERTS_USE_MKCERT:-auto}
leaf_days=365
ca_days=3650
renew_within_seconds=$((30 * 24 * 3600))

"$root/scripts/ensure-tools.sh" openssl

ca_crt="$dir/ca.crt"
ca_key="$dir/ca.key"
leaf_crt="$dir/localhost.crt"
leaf_key="$dir/localhost.key"

mkdir -p "$dir"
# Keys are written under umask 077; certificates are public and made readable afterwards.
umask 077

log() { echo "certs: $*" >&2; }

# True when the leaf was issued by our CA file (the only case we may replace it).
issued_by_our_ca() {
  [[ -f "$ca_crt" ]] && openssl verify -CAfile "$ca_crt" "$leaf_crt" >/dev/null 2>&1
}

# True when the leaf is still valid for 30 days and covers localhost, 127.0.0.1 and ::1.
leaf_is_good() {
  openssl x509 -in "$leaf_crt" -noout -checkend "$renew_within_seconds" >/dev/null 2>&1 || return 1
  local sans
  sans=$(openssl x509 -in "$leaf_crt" -noout -ext subjectAltName 2>/dev/null) || return 1
  [[ "$sans" == *"DNS:localhost"* && "$sans" == *"IP Address:127.0.0.1"* && "$sans" == *"IP Address:0:0:0:0:0:0:0:1"* ]]
}

if [[ -e "$leaf_crt" || -e "$leaf_key" ]]; then
  if [[ ! -f "$leaf_crt" || ! -f "$leaf_key" ]] || ! issued_by_our_ca; then
    # Someone else's certificate (a real one, or a hand-made one): never touch it.
    log "keeping $leaf_crt: it was not issued by $ca_crt, so it is yours; nothing to do"
    exit 0
  fi
  if leaf_is_good; then
    log "keeping valid $leaf_crt ($(openssl x509 -in "$leaf_crt" -noout -enddate))"
    exit 0
  fi
  log "renewing $leaf_crt: it expires within 30 days or lacks a SAN"
fi

# The CA: mkcert's when available (browsers trust it after `mkcert -install`), else our own.
ca_from_mkcert=false
if [[ "$use_mkcert" != never ]] && command -v mkcert >/dev/null 2>&1; then
  # -install creates the CA on first use and adds it to the system and NSS/browser stores.
  # It may fail without privileges; the CA itself still exists afterwards.
  mkcert -install >&2 || log "mkcert -install failed; the CA exists but may not be trusted yet"
  caroot=$(mkcert -CAROOT)
  if [[ -f "$caroot/rootCA.pem" && -f "$caroot/rootCA-key.pem" ]]; then
    # The leaf is signed here with openssl rather than by `mkcert localhost`, because mkcert
    # issues 825-day certificates and browsers accept at most 397 days.
    sign_ca_crt="$caroot/rootCA.pem"
    sign_ca_key="$caroot/rootCA-key.pem"
    ca_from_mkcert=true
    cp "$sign_ca_crt" "$ca_crt"
    chmod 644 "$ca_crt"
    rm -f "$ca_key"
    log "using mkcert's CA from $caroot"
  fi
fi

if [[ "$ca_from_mkcert" == false ]]; then
  if [[ ! -f "$ca_crt" || ! -f "$ca_key" ]]; then
    log "creating a local CA in $dir"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ca_key"
    # Name constraints: even if ca.key leaked, this CA could only vouch for localhost and
    # loopback addresses, so trusting it on a workstation is low-risk.
    openssl req -x509 -new -key "$ca_key" -sha256 -days "$ca_days" \
      -subj "/O=authstack local development/CN=authstack local CA $(date -u +%Y%m%d%H%M%S)" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash" \
      -addext "nameConstraints=critical,permitted;DNS:localhost,permitted;IP:127.0.0.0/255.0.0.0,permitted;IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF" \
      -out "$ca_crt"
    chmod 644 "$ca_crt"
  fi
  sign_ca_crt="$ca_crt"
  sign_ca_key="$ca_key"
fi

# The leaf: fresh key each time, written to temporary files and moved into place together.
tmp=$(mktemp -d "$dir/.certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/leaf.key"
openssl req -new -key "$tmp/leaf.key" -subj "/O=authstack local development/CN=localhost" -out "$tmp/leaf.csr"
cat >"$tmp/leaf.ext" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
# A random 128-bit serial, as CAs must use unpredictable serials.
openssl x509 -req -in "$tmp/leaf.csr" -CA "$sign_ca_crt" -CAkey "$sign_ca_key" \
  -set_serial "0x$(openssl rand -hex 16)" -days "$leaf_days" -sha256 \
  -extfile "$tmp/leaf.ext" -out "$tmp/leaf.crt" 2>/dev/null
chmod 644 "$tmp/leaf.crt"
mv -f "$tmp/leaf.key" "$leaf_key"
mv -f "$tmp/leaf.crt" "$leaf_crt"
log "issued $leaf_crt ($(openssl x509 -in "$leaf_crt" -noout -enddate))"

if [[ "$ca_from_mkcert" == true ]]; then
  log "browsers trust it through mkcert's CA (run 'mkcert -install' once if they do not)"
else
  cat >&2 <<TRUST
certs: to make browsers and tools trust https://localhost, trust the CA once:
  Debian/Ubuntu (system, curl):  sudo cp $ca_crt /usr/local/share/ca-certificates/authstack-local-ca.crt && sudo update-ca-certificates
  Chrome/Chromium (Linux, NSS):  certutil -d sql:\$HOME/.pki/nssdb -A -t C,, -n authstack-local-ca -i $ca_crt
  Firefox:                       Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import
  macOS:                         sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain $ca_crt
  Node.js clients:               NODE_EXTRA_CA_CERTS=$ca_crt
  Or install mkcert and delete $dir: the next run uses mkcert's CA, which it trusts for you.
TRUST
fi
