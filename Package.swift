// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Vitrine",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vitrine", targets: ["vitrine"]),
        .executable(name: "vitrine-bench", targets: ["vitrine-bench"]),
        .library(name: "VitrineCore", targets: ["VitrineCore"]),
        .library(name: "VitrineModels", targets: ["VitrineModels"]),
        .library(name: "VitrineHub", targets: ["VitrineHub"]),
        .library(name: "VitrineImage", targets: ["VitrineImage"]),
        .library(name: "VitrineTensor", targets: ["VitrineTensor"]),
        .library(name: "VitrineIndex", targets: ["VitrineIndex"]),
        .library(name: "VitrineCatalog", targets: ["VitrineCatalog"]),
        .library(name: "VitrineSources", targets: ["VitrineSources"]),
        .library(name: "VitrinePostgres", targets: ["VitrinePostgres"]),
        .library(name: "VitrineS3", targets: ["VitrineS3"]),
        .library(name: "VitrineLLM", targets: ["VitrineLLM"]),
        .library(name: "VitrineEngine", targets: ["VitrineEngine"]),
        .library(name: "VitrineEval", targets: ["VitrineEval"]),
        .library(name: "VitrineServer", targets: ["VitrineServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        // The search service.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        // Cluster backends: the catalog in PostgreSQL (TLS through NIOSSL).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // Milvus over gRPC (issue 15): grpc-swift 2, its protobuf glue and NIO transport.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        // C libraries from Debian's -dev packages.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // oneDNN (Debian's 2.x, OpenMP runtime) for the int8 GEMM: it ships no pkg-config file.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // gzip streams of Fashion-MNIST's IDX files (ZIPFoundation already has a module named CZlib).
        .systemLibrary(name: "CVitrineZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("webp")]
        ),

        // Hand-written AVX2/FMA kernels, selected at run time (the build targets any x86-64).
        .target(name: "CVitrineKernels", cSettings: [.unsafeFlags(["-O3"])]),

        // Layers, lowest first. Dependencies point down only.
        // What every layer may share: hex text of bytes.
        .target(name: "VitrineCore"),
        // The tensor layer and the models are optimized in debug builds too, as VitrineImage is:
        // their loops at -Onone make every parity test run three times longer (the reranker's
        // and the multilingual tower's suites: 97 s against 29 s alone).
        .target(
            name: "VitrineTensor", dependencies: ["VitrineCore", "COpenBLAS", "CDNNL", "CVitrineKernels"],
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        .target(
            name: "VitrineImage", dependencies: ["VitrineCore", "CImageCodecs"],
            // Optimized in debug builds too: Pillow-exact resampling at -Onone is ~10× slower and
            // makes every ingest test wait on it.
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        // Distance kernels (AVX2/FMA chosen at run time), CRC32C and per-node spin locks for the
        // vector index: the few things Swift cannot express (intrinsics, prefetch, atomics on raw memory).
        .target(name: "CVitrineIndex", cSettings: [.unsafeFlags(["-O3"])]),
        .target(
            name: "VitrineIndex", dependencies: ["VitrineCore", "CVitrineIndex"],
            // Optimized in debug builds too: graph construction at -Onone is ~20× slower and
            // would make the index tests take minutes.
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        // Checkpoints, tokenizers and the CLIP and BERT encoders.
        .target(
            name: "VitrineModels", dependencies: ["VitrineCore", "VitrineTensor", "VitrineImage"],
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        // The Hugging Face Hub client: model files by repo id, the shared cache, downloads, progress.
        .target(
            name: "VitrineHub",
            dependencies: [
                "VitrineCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Product records (SQLite + FTS5 through GRDB), the content-addressed image store and the
        // data directory (writer lock, generation, model record).
        .target(
            name: "VitrineCatalog",
            dependencies: [
                "VitrineCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The catalog in PostgreSQL: the same semantics as the SQLite one, behind the Catalog protocol.
        .target(
            name: "VitrinePostgres",
            dependencies: [
                "VitrineCatalog",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The vector role in Milvus over gRPC: the generated protocol subset
        // (tools/generate_milvus.sh) and the store over it.
        .target(
            name: "VitrineMilvus",
            dependencies: [
                "VitrineCore",
                "VitrineIndex",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // Photos in S3 (or any store speaking its API): Signature V4 on swift-crypto over AsyncHTTPClient.
        .target(
            name: "VitrineS3",
            dependencies: [
                "VitrineCatalog", "VitrineCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Dataset readers: GLAMI-1M, a folder of photos, a CSV/JSONL manifest, Fashion-MNIST, and
        // the HTTP fetching of manifest images.
        .target(
            name: "VitrineSources",
            dependencies: [
                "VitrineCore", "VitrineCatalog", "VitrineImage", "CVitrineZlib",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // Query understanding through an OpenAI-compatible chat server: the client (a deadline, no
        // retries), the prompt and schema, validation against the catalog's facets, the cache.
        .target(
            name: "VitrineLLM",
            dependencies: [
                "VitrineCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Ingest and search over a data directory, and the catalog lifecycle.
        .target(
            name: "VitrineEngine",
            dependencies: [
                "VitrineCore", "VitrineCatalog", "VitrineIndex", "VitrineModels", "VitrineImage", "VitrineSources",
                "VitrinePostgres", "VitrineS3", "VitrineMilvus", "VitrineLLM",
                .product(name: "Crypto", package: "swift-crypto"),
                // AsyncChannel: ingest hands prepared batches to the committing loop one at a time.
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ]
        ),
        // Retrieval evaluation: judgements and runs, the ranking metrics (trec_eval's definitions),
        // intervals and paired tests.
        .target(name: "VitrineEval", dependencies: ["VitrineCore", "VitrineSources", "VitrineEngine", "VitrineCatalog", "VitrineModels", "VitrineImage"]),
        // The HTTP search service over a data directory: API v1, OpenAPI document and its page,
        // images and thumbnails, metrics, health, writes through the data directory's writer lock,
        // and the web UI (server-rendered HTML that escapes by default; its CSS and JS are resources).
        .target(
            name: "VitrineServer",
            dependencies: [
                "VitrineEngine", "VitrineCatalog", "VitrineIndex", "VitrineModels", "VitrineImage", "VitrineSources", "VitrineCore",
                "VitrineLLM",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Crypto", package: "swift-crypto"),
                // Client aborts told from server failures; Expect: 100-continue and malformed
                // requests answered at the channel, before the router.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            // The web UI's stylesheet and script, as files (WebUIAssets finds them at start-up).
            resources: [.copy("Resources/vitrine.css"), .copy("Resources/vitrine.js")]
        ),
        // Synthetic data for tests and benchmarks alike (one generator, not two copies): vectors
        // in clusters, products from a fashion vocabulary, small photos, a source of N products.
        .target(name: "VitrineSynthetic", dependencies: ["VitrineCore", "VitrineCatalog", "VitrineImage", "VitrineSources"]),
        // What both command-line tools share: error printing and exit codes, --json, --model and
        // --data, ingest's progress line, the entry point.
        .target(
            name: "VitrineCommandLine",
            dependencies: [
                "VitrineCore", "VitrineCatalog", "VitrineEngine", "VitrineHub", "VitrineModels", "VitrineTensor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "vitrine",
            dependencies: [
                "VitrineCommandLine", "VitrineModels", "VitrineHub", "VitrineImage", "VitrineTensor", "VitrineIndex",
                "VitrineCatalog", "VitrineSources", "VitrineEngine", "VitrineServer", "VitrineEval", "VitrineLLM",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
            ]
        ),
        // The benchmarks (BENCHMARKS.md's numbers): a tool of their own, not part of the product.
        .executableTarget(
            name: "vitrine-bench",
            dependencies: [
                "VitrineCommandLine", "VitrineModels", "VitrineHub", "VitrineImage", "VitrineTensor", "VitrineIndex",
                "VitrineCatalog", "VitrineSources", "VitrineEngine", "VitrineCore", "VitrineSynthetic",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Runs the built `vitrine` binary as a user would.
        .testTarget(name: "VitrineCLITests", dependencies: ["vitrine", "vitrine-bench"]),
        // One contract, every backend: the catalog and blob-store conformance suites (SQLite and
        // files always; PostgreSQL and S3 against the servers scripts/servers.sh starts), plus what is
        // particular to each backend (the SQLite file, the file store and writer lock; URLs,
        // credentials, outages and Signature V4's vectors for the remote ones).
        .testTarget(
            name: "VitrineStorageTests",
            dependencies: [
                "VitrineCatalog", "VitrinePostgres", "VitrineS3", "VitrineCore",
                .product(name: "Crypto", package: "swift-crypto"),
                // The SQLite catalog's own tests open its file directly.
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "VitrineMilvusTests",
            dependencies: [
                "VitrineMilvus", "VitrineIndex", "VitrineCore", "VitrineSynthetic",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),
        .testTarget(
            name: "VitrineSourcesTests",
            dependencies: [
                "VitrineSources", "VitrineCatalog", "VitrineImage",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                // A loopback HTTP server that serves manifest images in tests.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "VitrineEngineTests",
            dependencies: ["VitrineEngine", "VitrineCatalog", "VitrineIndex", "VitrineModels", "VitrineImage", "VitrineSources"]
        ),
        .testTarget(name: "VitrineEvalTests", dependencies: ["VitrineEval"]),
        // The LLM client and parser against a scripted fake chat server (Hummingbird on loopback).
        .testTarget(
            name: "VitrineLLMTests",
            dependencies: [
                "VitrineLLM", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "VitrineServerTests",
            dependencies: [
                "VitrineServer", "VitrineEngine", "VitrineCatalog", "VitrineModels", "VitrineImage", "VitrineSources", "VitrineCore",
                "VitrineIndex", "VitrineHub", "VitrineTensor", "VitrineCommandLine", "VitrineLLM",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "VitrineTensorTests", dependencies: ["VitrineTensor", "CVitrineKernels"]),
        .testTarget(name: "VitrineIndexTests", dependencies: ["VitrineIndex", "CVitrineIndex", "VitrineCore", "VitrineSynthetic"]),
        .testTarget(
            name: "VitrineSyntheticTests",
            dependencies: ["VitrineSynthetic", "VitrineCore", "VitrineCatalog", "VitrineImage", "VitrineSources"]
        ),
        .testTarget(
            name: "VitrineImageTests",
            dependencies: ["VitrineImage", "VitrineTensor", "VitrineCore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "VitrineModelsTests",
            dependencies: ["VitrineModels", "VitrineImage", "VitrineTensor", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(
            name: "VitrineHubTests",
            dependencies: [
                "VitrineHub",
                // A loopback HTTP server that plays the Hugging Face Hub in tests.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)
