#!/usr/bin/env bash
# Runs every test of Kite against the real peers: installs what is missing (Debian packages),
# builds everything (the tests also run the built stringsvc example), then runs the tests.
# Under CI (CI=true) a test whose peer is missing fails instead of being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v prometheus >/dev/null 2>&1 || packages+=(prometheus)   # also provides promtool
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
command -v protoc >/dev/null 2>&1 || packages+=(protobuf-compiler)   # protoc --decode of OTLP bodies
command -v python3 >/dev/null 2>&1 || packages+=(python3 python3-pip)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test.sh: installing ${packages[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# The OTLP receiver and the client span of the tests: the upstream OpenTelemetry definitions and SDK.
if ! python3 -c "import opentelemetry.proto, opentelemetry.sdk, google.protobuf" >/dev/null 2>&1; then
  echo "test.sh: installing opentelemetry-proto opentelemetry-sdk protobuf (pip)"
  python3 -m pip install -q opentelemetry-proto opentelemetry-sdk protobuf
fi

swift build --build-tests
swift test --skip-build "$@"
