#!/usr/bin/env bash
# Regenerates the committed Swift code of Kite's .proto files: the messages with swift-protobuf's
# protoc-gen-swift, the service descriptors and stubs with grpc-swift-protobuf's
# protoc-gen-grpc-swift-2, both built here from the versions Package.swift names. protoc comes from
# Debian's protobuf-compiler. Building the two plugins takes several minutes the first time; the
# generated files are committed so that nobody else has to.
#
#   bash Scripts/generate-protos.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

command -v protoc >/dev/null || { apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null; }

plugins=${KITE_PROTOC_PLUGINS:-$root/.build-protoc-plugins}
if [[ ! -x $plugins/release/protoc-gen-swift || ! -x $plugins/release/protoc-gen-grpc-swift-2 ]]; then
    work=$(mktemp -d)
    git clone -q --branch 2.4.1 https://github.com/grpc/grpc-swift-protobuf.git "$work/grpc-swift-protobuf"
    (cd "$work/grpc-swift-protobuf" &&
        swift build -c release --scratch-path "$plugins" --product protoc-gen-grpc-swift-2 &&
        swift build -c release --scratch-path "$plugins" --product protoc-gen-swift)
    rm -rf "$work"
fi

generate() {  # generate <proto directory> <proto file> <output directory> <Public|Internal>
    protoc --proto_path="$1" \
        --plugin=protoc-gen-swift="$plugins/release/protoc-gen-swift" \
        --plugin=protoc-gen-grpc-swift-2="$plugins/release/protoc-gen-grpc-swift-2" \
        --swift_opt=Visibility="$4" --swift_out="$3" \
        --grpc-swift-2_opt=Visibility="$4",Client=true,Server=true --grpc-swift-2_out="$3" \
        "$2"
}

# The health service's types are Kite's own business: internal, so they never collide with a
# user's copy of health.proto.
generate Sources/KiteGRPC/Health health.proto Sources/KiteGRPC/Health/Generated Internal
generate Examples/addsvc addsvc.proto Examples/addsvc/Sources/AddService/Generated Public
generate Examples/addsvc addstream.proto Examples/addsvc/Sources/AddService/Generated Public
echo "generated"
