#!/usr/bin/env bash
# Makes a self-signed certificate and key for trying TLS:
#   bash scripts/make-cert.sh [DIR] [HOSTNAME...]
# writes DIR/cert.pem and DIR/key.pem (DIR defaults to ./tls), valid for a year for localhost,
# 127.0.0.1, ::1 and any HOSTNAMEs given (names or IP addresses). Then:
#   chat serve 5000 60 300 --tls-cert tls/cert.pem --tls-key tls/key.pem
#   chat connect 5000 --tls --ca tls/cert.pem
set -euo pipefail
dir=${1:-tls}
shift || true
command -v openssl >/dev/null || { echo "make-cert: openssl is needed (apt-get install openssl)" >&2; exit 1; }
san="DNS:localhost,IP:127.0.0.1,IP:::1"
for host in "$@"; do
  if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then san+=",IP:$host"; else san+=",DNS:$host"; fi
done
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
  -subj "/CN=chat" -addext "subjectAltName=$san" \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 644 "$dir/cert.pem"
echo "wrote $dir/cert.pem and $dir/key.pem (for $san)"
