import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VitrineCatalog
import VitrineCore
import VitrineImage
@testable import VitrineServer

@Suite("image routes")
struct ImageRouteTests {
    @Test func imagesAreServedByContentKeyWithETagAndLongCaching() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let product = try await client.execute(uri: "/api/v1/products/p1", method: .get).decode(ProductResponse.self)
            let url = product.images[0].url
            let response = try await client.execute(uri: url, method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "image/jpeg")
            #expect(response.headers[.cacheControl] == "public, max-age=31536000, immutable")
            let digest = Hex.encode(SHA256.hash(data: response.data))
            #expect(response.data == ServerFixtures.photo("baseline.jpg"))
            #expect(response.headers[.eTag] == "\"\(digest)\"")
            #expect(url.hasSuffix("/\(digest).jpg"))

            let cached = try await client.execute(uri: url, method: .get, headers: [.ifNoneMatch: "\"\(digest)\""])
            #expect(cached.status == .notModified)
            #expect(cached.body.readableBytes == 0)
            #expect(cached.headers[.eTag] == "\"\(digest)\"")
            let other = try await client.execute(uri: url, method: .get, headers: [.ifNoneMatch: "\"0000\""])
            #expect(other.status == .ok)
        }
    }

    @Test(arguments: ["not-a-key", "%2E%2E%2Fcatalog.sqlite", String(repeating: "a", count: 64) + ".exe",
                      String(repeating: "A", count: 64) + ".jpg", "..%2Fcatalog.sqlite"])
    func malformedKeysAre400(key: String) async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let response = try await client.execute(uri: "/images/\(key)", method: .get)
            #expect(response.status == .badRequest, "\(key)")
            #expect(try response.error().code == "invalid_image_key")
        }
    }

    /// Dot segments never reach a file: the path does not even route to the image handler.
    @Test func dotSegmentsServeNothing() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let response = try await client.execute(uri: "/images/../catalog.sqlite", method: .get)
            #expect(response.status == .notFound)
            #expect(try response.error().code == "not_found")
        }
    }

    @Test func unknownKeysAre404() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let response = try await client.execute(uri: "/images/\(String(repeating: "0", count: 64)).png", method: .get)
            #expect(response.status == .notFound)
            #expect(try response.error().code == "not_found")
            let thumbnail = try await client.execute(uri: "/images/\(String(repeating: "0", count: 64)).png?w=64", method: .get)
            #expect(thumbnail.status == .notFound)
        }
    }

    @Test func thumbnailsAreUprightPNGsMadeOnce() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            // orient_3.jpg is stored rotated 180°: EXIF orientation is applied, so the size holds and the
            // thumbnail equals one made from the upright decode.
            let product = try await client.execute(uri: "/api/v1/products/bag%205%2Fx", method: .get).decode(ProductResponse.self)
            let url = product.images[0].url
            let first = try await client.execute(uri: url + "?w=64", method: .get)
            #expect(first.status == .ok)
            #expect(first.headers[.contentType] == "image/png")
            let key = String(url.split(separator: "/").last!)
            #expect(first.headers[.eTag] == "\"\(key.prefix(64))-w64\"")
            let decoded = try ImageDecoder().decode(first.data)
            let upright = try ImageDecoder().decode(ServerFixtures.photo("orient_3.jpg"))
            // A thumbnail is never wider than its image (this photo is tiny).
            let width = min(64, upright.width)
            #expect(decoded.width == width)
            #expect(decoded.height == max(1, Int((Double(upright.height) * Double(width) / Double(upright.width)).rounded())))
            #expect(decoded == upright.resized(width: decoded.width, height: decoded.height))
            let sideways = try ImageDecoder(appliesExifOrientation: false).decode(ServerFixtures.photo("orient_3.jpg"))
            #expect(decoded != sideways.resized(width: decoded.width, height: decoded.height), "the thumbnail ignores EXIF orientation")

            let file = server.thumbnails.url(for: BlobKey(key)!, width: 64)
            #expect(FileManager.default.fileExists(atPath: file.path))
            let modified = try FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as? Date
            let second = try await client.execute(uri: url + "?w=64", method: .get)
            #expect(second.data == first.data)
            #expect(try FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as? Date == modified)
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            #expect(metrics.contains("vitrine_thumbnails_generated_total 1"))

            let notModified = try await client.execute(uri: url + "?w=64", method: .get, headers: [.ifNoneMatch: first.headers[.eTag]!])
            #expect(notModified.status == .notModified)

            // A larger photo is downscaled, keeping its aspect ratio.
            let dress = try await client.execute(uri: "/api/v1/products/p1", method: .get).decode(ProductResponse.self)
            let small = try ImageDecoder().decode(try await client.execute(uri: dress.images[0].url + "?w=48", method: .get).data)
            let original = try ImageDecoder().decode(ServerFixtures.photo("baseline.jpg"))
            #expect(original.width > 48)
            #expect(small.width == 48)
            #expect(small.height == Int((Double(original.height) * 48 / Double(original.width)).rounded()))
        }
    }

    @Test(arguments: ["0", "15", "1025", "wide", "-3"])
    func badThumbnailWidthsAre400(width: String) async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let product = try await client.execute(uri: "/api/v1/products/p1", method: .get).decode(ProductResponse.self)
            let response = try await client.execute(uri: product.images[0].url + "?w=\(width)", method: .get)
            #expect(response.status == .badRequest, "w=\(width)")
            #expect(try response.error().message.contains("w"))
        }
    }
}
