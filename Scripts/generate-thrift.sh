#!/usr/bin/env bash
# Generates the Python Thrift code of the tests' peers, with Debian's thrift-compiler, from
# go-kit's addsvc.thrift (Examples/addsvc) and Kite's test IDL (Tests/Peers/thrift). The output is
# committed under Tests/Peers/thrift/gen-py; run this again after changing an IDL.
set -euo pipefail
cd "$(dirname "$0")/.."
out=Tests/Peers/thrift/gen-py
rm -rf "$out"
mkdir -p "$out"
thrift --gen py -out "$out" Tests/Peers/thrift/kitetest.thrift
thrift --gen py -out "$out" Examples/addsvc/addsvc.thrift
rm -f "$out"/*/*-remote
