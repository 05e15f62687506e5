// swift-tools-version: 6.1
import PackageDescription

// Builds the code generators for the Milvus protocol subset (not part of Vitrine's build).
let package = Package(
    name: "plugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
    ],
    targets: [.target(name: "Placeholder", path: "Placeholder")]
)
