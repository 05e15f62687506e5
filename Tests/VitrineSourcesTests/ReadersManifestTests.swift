import Foundation
import NIOHTTP1
import Testing
@testable import VitrineSources

@Suite("Manifest reader")
struct ReadersManifestTests {
    @Test("CSV with two image columns, a list column, unmapped columns to extra, bad references rejected")
    func csvManifest() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let jpeg = try ReaderFixtures.bytes("baseline.jpg"), png = try ReaderFixtures.bytes("rgb.png")
        try folder.write("shop/img/front.jpg", jpeg)
        try folder.write("shop/img/back.png", png)
        try folder.write("secret.jpg", jpeg)
        let manifest = try folder.write("shop/products.csv", text: """
            sku,title,details,front,back,gallery,color
            A1,Red dress,"Soft, light",img/front.jpg,img/back.png,img/front.jpg|img/back.png,red
            A2,No image,x,,,,blue
            A3,Escapes,x,../secret.jpg,,,green
            A4,Absolute,x,\(folder.url.path)/secret.jpg,,,green
            A1,Again,x,img/front.jpg,,,red
            A5,Other scheme,x,ftp://example.com/a.jpg,,,red
            ,No id,x,img/front.jpg,,,red

            """)
        let mapping = ManifestMapping(id: "sku", name: "title", description: "details",
                                      imageColumns: ["front", "back"], imageListColumns: ["gallery"])
        let reader = ManifestReader(url: manifest, mapping: mapping)
        let result = try await readAll(reader)
        try await reader.shutdown()

        #expect(result.products == ["A1"])
        let item = try #require(result.items.first)
        #expect(item.product.name == "Red dress")
        #expect(item.product.description == "Soft, light")
        #expect(item.product.extra == ["color": "red"])
        #expect(item.product.source == "manifest:" + manifest.path)
        #expect(item.images.map(\.id) == ["0", "1", "2", "3"])
        let loaded = try await withThrowingTaskGroup(of: (Int, Data).self) { group in
            for (index, image) in item.images.enumerated() { group.addTask { (index, try await image.load()) } }
            var out: [Int: Data] = [:]
            for try await (index, data) in group { out[index] = data }
            return out
        }
        #expect(loaded == [0: jpeg, 1: png, 2: jpeg, 3: png])

        let reasons = Dictionary(uniqueKeysWithValues: result.rejections.map { ($0.location, $0.reason) })
        #expect(result.rejections.count == 6)
        #expect(reasons["\(manifest.path):3"]?.contains("no image") == true)
        #expect(reasons["\(manifest.path):4"]?.contains("leads outside the manifest's folder") == true)
        #expect(reasons["\(manifest.path):5"]?.contains("absolute paths are not allowed") == true)
        #expect(reasons["\(manifest.path):6"]?.contains("duplicate id A1") == true)
        #expect(reasons["\(manifest.path):7"]?.contains("only http and https") == true)
        #expect(reasons["\(manifest.path):8"]?.contains("no id") == true)

        // With the option, the escaping path is accepted.
        let lenient = ManifestReader(url: manifest, mapping: mapping, allowsPathsOutsideFolder: true)
        let lenientResult = try await readAll(lenient)
        #expect(lenientResult.products == ["A1", "A3", "A4"])
        #expect(try await lenientResult.items[1].images[0].load() == jpeg)
    }

    @Test("JSONL with an image list, a mapping file, malformed lines rejected")
    func jsonLines() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let jpeg = try ReaderFixtures.bytes("gray.jpg")
        try folder.write("a.jpg", jpeg)
        try folder.write("b.jpg", jpeg)
        let mappingFile = try folder.write("mapping.json", text: #"{"id": "product_id", "image_columns": [], "image_list_columns": ["photos"], "category_name": "type"}"#)
        let manifest = try folder.write("items.jsonl", text: """
            {"product_id": "p1", "name": "Tote", "photos": ["a.jpg", "b.jpg"], "type": "Bag", "price": 12, "market": "sk"}
            not json
            [1, 2]

            {"product_id": "p2", "name": "Cap", "photos": []}
            {"product_id": 3, "photos": ["b.jpg"]}
            """)
        let mapping = try ManifestMapping.load(from: mappingFile)
        #expect(mapping.id == "product_id")
        #expect(mapping.name == "name")
        #expect(mapping.imageListColumns == ["photos"])
        let reader = ManifestReader(url: manifest, mapping: mapping)
        let result = try await readAll(reader)
        #expect(result.products == ["p1", "3"])
        let tote = try #require(result.items.first)
        #expect(tote.images.map(\.id) == ["0", "1"])
        #expect(tote.product.categoryName == "Bag")
        #expect(tote.product.market == "sk")
        #expect(tote.product.extra == ["price": "12"])
        #expect(result.items[1].product.name == "3")
        #expect(try await tote.images[1].load() == jpeg)
        #expect(result.rejections.map(\.location) == ["2", "3", "5"].map { "\(manifest.path):\($0)" })
        #expect(result.rejections.map(\.reason) == ["not a JSON object", "not a JSON object", "no image (columns photos)"])

        // A .json array of the same objects.
        let array = try folder.write("items.json", text: #"[{"product_id": "p1", "photos": ["a.jpg"]}, 5]"#)
        let fromArray = try await readAll(ManifestReader(url: array, mapping: mapping))
        #expect(fromArray.products == ["p1"])
        #expect(fromArray.rejections.map(\.location) == ["\(array.path)[1]"])

        let badMapping = try folder.write("bad.json", text: #"{"id": 5}"#)
        #expect(throws: ReaderError.self) { try ManifestMapping.load(from: badMapping) }
        do {
            _ = try ManifestMapping.load(from: badMapping)
        } catch {
            #expect(String(describing: error).contains(badMapping.path))
        }
    }

    @Test("a missing image file: load throws naming the path")
    func missingImage() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let manifest = try folder.write("m.csv", text: "id,image\nx,gone.jpg\n")
        let result = try await readAll(ManifestReader(url: manifest))
        let image = try #require(result.items.first?.images.first)
        let path = folder.url.appendingPathComponent("gone.jpg").standardizedFileURL.path
        await #expect(throws: ReaderError.notFound(path: path)) { try await image.load() }
    }
}

@Suite("Manifest downloads")
struct ReadersDownloadTests {
    static let image = Array((try? ReaderFixtures.bytes("baseline.jpg")) ?? Data())

    static func route(_ uri: String) -> TestHTTPServer.Reply {
        switch uri {
        case "/img.jpg": return .init(headers: [("Content-Type", "image/jpeg")], body: image)
        case "/hop1": return .init(status: .found, headers: [("Location", "/hop2")])
        case "/hop2": return .init(status: .movedPermanently, headers: [("Location", "/img.jpg")])
        case "/loop1": return .init(status: .found, headers: [("Location", "/loop2")])
        case "/loop2": return .init(status: .found, headers: [("Location", "/loop3")])
        case "/loop3": return .init(status: .found, headers: [("Location", "/loop4")])
        case "/loop4": return .init(status: .found, headers: [("Location", "/img.jpg")])
        case "/big": return .init(body: [UInt8](repeating: 7, count: 3000))
        case "/big-chunked": return .init(body: [UInt8](repeating: 7, count: 300_000), chunked: true)
        case "/slow": return .init(headers: [("Content-Type", "image/jpeg")], body: image, delay: .seconds(10))
        default: return .init(status: .notFound)
        }
    }

    @Test("loopback download with allowPrivateNetworks; redirects; refused by the default policy")
    func downloads() async throws {
        let server = try await TestHTTPServer.start(Self.route)
        let folder = try TemporaryFolder()
        let allowed = ImageDownloader(policy: DownloadPolicy(allowPrivateNetworks: true))
        let strict = ImageDownloader()
        do {
            // Through a manifest, as ingest uses it.
            let manifest = try folder.write("m.jsonl", text: #"{"id": "u1", "images": ["\#(server.url("/img.jpg"))", "\#(server.url("/hop1"))"]}"#)
            let reader = ManifestReader(url: manifest, download: DownloadPolicy(allowPrivateNetworks: true))
            let result = try await readAll(reader)
            let images = try #require(result.items.first).images
            #expect(images.map(\.origin) == [server.url("/img.jpg"), server.url("/hop1")])
            #expect(try await images[0].load() == Data(Self.image))
            #expect(try await images[1].load() == Data(Self.image))
            try await reader.shutdown()
            #expect(server.requests.suffix(3) == ["/hop1", "/hop2", "/img.jpg"])

            await #expect(throws: ReaderError.forbiddenAddress(url: server.url("/img.jpg"), address: "127.0.0.1")) {
                try await strict.download(server.url("/img.jpg"))
            }
            // A name that resolves to loopback is refused too.
            await #expect(throws: ReaderError.self) { try await strict.download(server.url("/img.jpg", host: "localhost")) }
            let before = server.requests.count
            await #expect(throws: ReaderError.self) { try await strict.download("http://[::1]:\(server.port)/img.jpg") }
            #expect(server.requests.count == before)  // refused before connecting

            await #expect(throws: ReaderError.download(url: server.url("/loop1"), reason: "more than 3 redirects")) {
                try await allowed.download(server.url("/loop1"))
            }
            await #expect(throws: ReaderError.download(url: server.url("/nothing"), reason: "HTTP 404")) {
                try await allowed.download(server.url("/nothing"))
            }
        } catch {
            Issue.record(error)
        }
        try? await allowed.shutdown()
        try? await strict.shutdown()
        folder.remove()
        await server.shutdown()
    }

    @Test("size limit on Content-Length and on streamed bytes; timeout")
    func limits() async throws {
        let server = try await TestHTTPServer.start(Self.route)
        let small = ImageDownloader(policy: DownloadPolicy(maxBytes: 2000, allowPrivateNetworks: true))
        let mid = ImageDownloader(policy: DownloadPolicy(maxBytes: 100_000, allowPrivateNetworks: true))
        let quick = ImageDownloader(policy: DownloadPolicy(timeout: .milliseconds(500), allowPrivateNetworks: true))
        await #expect(throws: ReaderError.tooLarge(origin: server.url("/big"), limit: 2000)) { try await small.download(server.url("/big")) }
        await #expect(throws: ReaderError.tooLarge(origin: server.url("/big-chunked"), limit: 100_000)) {
            try await mid.download(server.url("/big-chunked"))
        }
        #expect(try await mid.download(server.url("/big")).count == 3000)
        // The photo comes after 10 s: had the 0.5 s limit not held, the download would succeed. The outcome
        // proves the limit, not a wall clock, which the full suite on two cores can delay by half a minute.
        await #expect(throws: ReaderError.download(url: server.url("/slow"), reason: "timed out after 0.5 seconds")) {
            try await quick.download(server.url("/slow"))
        }
        try? await small.shutdown()
        try? await mid.shutdown()
        try? await quick.shutdown()
        await server.shutdown()
    }

    /// A caller that throws before ``ImageDownloader/shutdown()`` drops a downloader whose client
    /// is running: without the downloader's own shutdown, the client's deinit traps in a debug
    /// build and takes the whole test process with it.
    @Test("a downloader dropped without shutdown releases its client")
    func droppedDownloader() async throws {
        let server = try await TestHTTPServer.start(Self.route)
        var dropped: ImageDownloader? = ImageDownloader(policy: DownloadPolicy(allowPrivateNetworks: true))
        #expect(try await dropped?.download(server.url("/img.jpg")) == Data(Self.image))
        weak let watched = dropped
        dropped = nil
        #expect(watched == nil)
        await server.shutdown()
    }

    @Test("address classification")
    func addresses() {
        let refused: [[UInt8]] = [
            [127, 0, 0, 1], [10, 1, 2, 3], [172, 16, 0, 1], [172, 31, 255, 255], [192, 168, 1, 1], [169, 254, 169, 254],
            [100, 64, 0, 1], [100, 127, 255, 255], [0, 0, 0, 0], [224, 0, 0, 1], [255, 255, 255, 255],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],                       // ::1
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],                       // ::
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],                    // ULA
            [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],                 // link-local
            [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],                 // multicast
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1],               // ::ffff:127.0.0.1
        ]
        for bytes in refused { #expect(!NetworkAddress(bytes: bytes).isPublic, "\(NetworkAddress(bytes: bytes).text)") }
        let allowed: [[UInt8]] = [[8, 8, 8, 8], [172, 32, 0, 1], [100, 128, 0, 1], [1, 1, 1, 1],
                                  [0x2a, 0x00, 0x14, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                                  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 8, 8, 4, 4]]
        for bytes in allowed { #expect(NetworkAddress(bytes: bytes).isPublic, "\(NetworkAddress(bytes: bytes).text)") }
    }
}
