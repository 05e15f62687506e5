import Foundation
import Testing
import VitrineCatalog
@testable import VitrineS3

/// Signature V4 against AWS's published examples, the `s3://` URL, and the S3 store's faults
/// against the SeaweedFS test server (which enforces signatures).
@Suite struct S3Tests {
    static let day = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z

    /// The SigV4 test suite's `get-vanilla` and `get-vanilla-query-order-key-case` (service
    /// "service", 2015-08-30T12:36:00Z).
    @Test func signatureTestSuiteVectors() {
        let signer = SignatureV4(credentials: .init(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                                 region: "us-east-1", service: "service")
        let date = Date(timeIntervalSince1970: 1_440_938_160)
        let vanilla = signer.sign(method: "GET", path: "/", query: [], headers: [("Host", "example.amazonaws.com")],
                                  payloadHash: SignatureV4.emptyPayloadHash, date: date)
        #expect(vanilla.first { $0.0 == "Authorization" }?.1 ==
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(vanilla.first { $0.0 == "x-amz-date" }?.1 == "20150830T123600Z")
        let ordered = signer.sign(method: "GET", path: "/", query: [("Param2", "value2"), ("Param1", "value1")],
                                  headers: [("Host", "example.amazonaws.com")], payloadHash: SignatureV4.emptyPayloadHash, date: date)
        #expect(ordered.first { $0.0 == "Authorization" }?.1.hasSuffix("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500") == true)
    }

    /// The examples of the S3 Signature V4 documentation: GET Object with a Range header, and a
    /// presigned GET valid for a day.
    @Test func s3DocumentationVectors() {
        let signer = SignatureV4(credentials: .init(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                                 region: "us-east-1")
        let get = signer.sign(method: "GET", path: "/test.txt", query: [],
                              headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
                              payloadHash: SignatureV4.emptyPayloadHash, date: Self.day)
        #expect(get.first { $0.0 == "Authorization" }?.1 ==
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        let presigned = signer.presignedQuery(method: "GET", path: "/test.txt", query: [], host: "examplebucket.s3.amazonaws.com",
                                              expires: 86400, date: Self.day)
        #expect(presigned.last?.0 == "X-Amz-Signature")
        #expect(presigned.last?.1 == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        #expect(S3BlobStore.queryString(Array(presigned.dropLast())) ==
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host")
    }

    /// Where a request goes in each addressing style (the store's init is skipped: no server).
    @Test func pathAndVirtualHostedAddressing() throws {
        let env = ["AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"]
        let path = try S3Configuration(url: "s3://shop-photos/cat/v1?endpoint=http://127.0.0.1:9000", setting: "--blobs", environment: env)
        let virtual = try S3Configuration(url: "s3://shop-photos/cat?region=eu-west-1", setting: "--blobs", environment: env)
        let key = "cat/v1/" + String(repeating: "a", count: 64) + ".jpg"
        #expect(S3BlobStore.address(path, key: key) == ("http://127.0.0.1:9000", "/shop-photos/" + key, "127.0.0.1:9000"))
        #expect(S3BlobStore.address(path, key: nil) == ("http://127.0.0.1:9000", "/shop-photos", "127.0.0.1:9000"))
        #expect(S3BlobStore.address(virtual, key: "cat/x y.jpg") ==
            ("https://shop-photos.s3.eu-west-1.amazonaws.com", "/cat/x%20y.jpg", "shop-photos.s3.eu-west-1.amazonaws.com"))
        #expect(S3BlobStore.address(virtual, key: nil) == ("https://shop-photos.s3.eu-west-1.amazonaws.com", "/", "shop-photos.s3.eu-west-1.amazonaws.com"))
    }

    @Test func encodingKeepsUnreservedOnly() {
        #expect(SignatureV4.encode("a b/c~d_e.f-g") == "a%20b%2Fc~d_e.f-g")
        #expect(SignatureV4.encode("photos/ab.jpg", keepSlash: true) == "photos/ab.jpg")
        #expect(SignatureV4.encode("šaty$") == "%C5%A1aty%24")
    }

    @Test func urlsAreParsedAndBadOnesNamed() throws {
        let env = ["AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"]
        let local = try S3Configuration(url: "s3://shop-photos/catalog/v1?endpoint=http://127.0.0.1:9000&region=eu-central-1",
                                        setting: "--blobs", environment: env)
        #expect(local.bucket == "shop-photos" && local.prefix == "catalog/v1" && local.region == "eu-central-1")
        #expect(local.addressing == .path && local.endpoint.absoluteString == "http://127.0.0.1:9000")
        #expect(local.credentials == .init(accessKey: "AK", secretKey: "SK"))
        #expect(!local.displayURL.contains("SK"))
        let aws = try S3Configuration(url: "s3://shop-photos", setting: "--blobs", environment: env.merging(["AWS_REGION": "eu-west-1"]) { $1 })
        #expect(aws.addressing == .virtual && aws.endpoint.absoluteString == "https://s3.eu-west-1.amazonaws.com" && aws.prefix == "")
        for (url, fragment) in [
            ("http://bucket", "not an s3:// URL"), ("s3://B", "not a bucket name"), ("s3://ab", "not a bucket name"),
            ("s3://bucket?endpoint=ftp://x", "endpoint"), ("s3://bucket?color=red", "unknown parameter \"color\""),
            ("s3://key:secret@bucket", "credentials do not belong in the URL"), ("s3://bucket?presign=0", "presign"),
            ("s3://bucket?part_size=1", "part_size"), ("s3://my.bucket", "virtual-hosted"),
        ] {
            guard case .invalidArgument(let message)? = catalogError({ _ = try S3Configuration(url: url, setting: "--blobs", environment: env) }) else {
                Issue.record("\(url) was accepted")
                continue
            }
            #expect(message.hasPrefix("--blobs: ") && message.contains(fragment), "\(message)")
        }
        guard case .invalidArgument(let message)? = catalogError({ _ = try S3Configuration(url: "s3://bucket", setting: "VITRINE_BLOBS", environment: [:]) }) else {
            Issue.record("no credentials was accepted")
            return
        }
        #expect(message.contains("AWS_ACCESS_KEY_ID"))
    }

    /// A wrong secret gets S3's 403, reported as the dependency refusing the credentials (never
    /// the secret itself).
    @Test(.enabled(if: TestServers.s3() != nil))
    func aWrongSecretIsRefusedAndSaidSo() throws {
        var configuration = try #require(TestServers.s3())
        configuration.credentials.secretKey = "not-the-secret"
        guard case .unavailable(let dependency, let reason)? = catalogError({ _ = try S3BlobStore(configuration, createBucket: true) }) else {
            Issue.record("a wrong secret was accepted")
            return
        }
        #expect(dependency.hasPrefix("S3 s3://\(configuration.bucket)/photos at http://127.0.0.1:"))
        #expect(reason.contains("refused the credentials") && reason.contains("403"), "\(reason)")
        #expect(!reason.contains("not-the-secret") && !dependency.contains("not-the-secret"))
    }

    /// Nothing listening: a clear, quick error naming S3, not a hang.
    @Test func anUnreachableEndpointIsUnavailable() throws {
        let configuration = S3Configuration(bucket: "photos", endpoint: URL(string: "http://127.0.0.1:9")!,
                                            credentials: .init(accessKey: "a", secretKey: "b"), timeout: 2)
        let started = Date()
        guard case .unavailable(let dependency, _)? = catalogError({ _ = try S3BlobStore(configuration) }) else {
            Issue.record("an unreachable endpoint was not reported as unavailable")
            return
        }
        #expect(dependency == "S3 s3://photos at http://127.0.0.1:9")
        #expect(Date().timeIntervalSince(started) < 30)  // 2 s alone; loose for a loaded machine
    }

    /// A presigned URL fetches the photo without credentials; a tampered one is refused.
    @Test(.enabled(if: TestServers.s3() != nil))
    func presignedURLsWork() throws {
        var configuration = try #require(TestServers.s3())
        configuration.presignSeconds = 60
        let store = try S3BlobStore(configuration, createBucket: true)
        let bytes = Data("presigned photo".utf8)
        let key = try store.put(bytes, ext: "jpg")
        let url = try #require(store.presignedURL(for: key))
        #expect(try fetch(url) == (200, bytes))
        let tampered = URL(string: url.absoluteString.replacingOccurrences(of: "X-Amz-Expires=60", with: "X-Amz-Expires=61"))!
        #expect(try fetch(tampered).status == 403)
    }

    /// An upload left unfinished (a writer killed mid-way) is found and aborted by
    /// `removeLeftovers`, the blobs themselves untouched.
    @Test(.enabled(if: TestServers.s3() != nil))
    func unfinishedUploadsAreAborted() throws {
        let store = try S3BlobStore(try #require(TestServers.s3()), createBucket: true)
        let kept = try store.put(Data("kept".utf8), ext: "png")
        let started = try store.send("POST", key: "photos/" + blobKey(5).description, query: [("uploads", "")], idempotent: false)
        #expect(started.status == .ok)
        #expect(try store.removeLeftovers() == 1)
        #expect(try store.removeLeftovers() == 0)
        #expect(try store.keys() == [kept])
    }

    /// GET with curl (another HTTP client than the one under test): status and body.
    private func fetch(_ url: URL) throws -> (status: Int, body: Data) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("s3-fetch-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "-o", dir.path, "-w", "%{http_code}", url.absoluteString]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let status = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (Int(status) ?? 0, (try? Data(contentsOf: dir)) ?? Data())
    }
}
