#!/usr/bin/env bash
# Regenerates Sources/VitrineMilvus/Generated/ from proto/milvus/*.proto: the swift-protobuf
# messages and the grpc-swift 2 client. Needs Debian's protoc (protobuf-compiler); builds the two
# plugins once from tools/milvus-codegen (pinned to the versions Vitrine builds against). The
# generated code is committed, so building Vitrine never needs protoc.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v protoc >/dev/null || { echo "protoc is missing: apt-get install protobuf-compiler" >&2; exit 1; }
(cd "$root/tools/milvus-codegen" && swift build -c release --product protoc-gen-swift >&2 \
    && swift build -c release --product protoc-gen-grpc-swift-2 >&2)
bin=$(cd "$root/tools/milvus-codegen" && swift build -c release --show-bin-path)
out="$root/Sources/VitrineMilvus/Generated"
rm -rf "$out" && mkdir -p "$out"
protoc -I "$root/proto/milvus" \
    --plugin=protoc-gen-swift="$bin/protoc-gen-swift" --swift_out="$out" --swift_opt=Visibility=Internal \
    --plugin=protoc-gen-grpc-swift="$bin/protoc-gen-grpc-swift-2" --grpc-swift_out="$out" \
    --grpc-swift_opt=Visibility=Internal,Server=false,Client=true \
    "$root/proto/milvus/common.proto" "$root/proto/milvus/schema.proto" "$root/proto/milvus/milvus.proto"
# Files without a service have an empty client: keep the messages only.
rm -f "$out/common.grpc.swift" "$out/schema.grpc.swift"
ls "$out"
