import Foundation
import Testing
@testable import VitrineSources

@Suite("Folder reader")
struct ReadersFolderTests {
    @Test("recursive, sorted, nested categories, sidecars; hidden files and escaping links skipped")
    func folder() async throws {
        let outside = try TemporaryFolder()
        let folder = try TemporaryFolder()
        defer {
            folder.remove()
            outside.remove()
        }
        let jpeg = try ReaderFixtures.bytes("baseline.jpg"), png = try ReaderFixtures.bytes("rgb.png")
        try folder.write("red_summer-dress.JPG", jpeg)
        try folder.write("shoes/blue_sneaker.png", png)
        try folder.write("shoes/blue_sneaker.json", text: #"{"name": "Blue Sneaker", "market": "cz", "price": 49.5, "tags": ["a", "b"], "on_sale": true, "category_name": "Sneakers"}"#)
        try folder.write("shoes/boots/tall_boot.webp", try ReaderFixtures.bytes("lossy.webp"))
        try folder.write("shoes/boots/tall_boot.txt", text: "  Leather, knee high.\n")
        try folder.write("bags/tote.jpeg", jpeg)
        try folder.write("bags/notes.md", text: "not an image")
        try folder.write(".hidden.jpg", jpeg)
        try folder.write(".cache/thumb.jpg", jpeg)
        try folder.write("bags/broken.jpg", jpeg)
        try folder.write("bags/broken.json", text: "{not json")
        let secret = try outside.write("secret.jpg", jpeg)
        try FileManager.default.createSymbolicLink(at: folder.url.appendingPathComponent("escape.jpg"), withDestinationURL: secret)
        try FileManager.default.createSymbolicLink(atPath: folder.url.appendingPathComponent("alias.jpg").path, withDestinationPath: "bags/tote.jpeg")

        let reader = FolderReader(url: folder.url)
        let result = try await readAll(reader)
        #expect(result.products == ["alias", "bags/tote", "red_summer-dress", "shoes/blue_sneaker", "shoes/boots/tall_boot"])
        let products = Dictionary(uniqueKeysWithValues: result.items.map { ($0.product.id, $0.product) })

        let dress = try #require(products["red_summer-dress"])
        #expect(dress.name == "red summer dress")
        #expect(dress.category == nil)
        #expect(dress.source == "folder:" + folder.url.standardizedFileURL.path)

        let sneaker = try #require(products["shoes/blue_sneaker"])
        #expect(sneaker.name == "Blue Sneaker")
        #expect(sneaker.category == "shoes")
        #expect(sneaker.categoryName == "Sneakers")
        #expect(sneaker.market == "cz")
        #expect(sneaker.extra == ["price": "49.5", "tags": #"["a","b"]"#, "on_sale": "true"])

        let boot = try #require(products["shoes/boots/tall_boot"])
        #expect(boot.category == "shoes")
        #expect(boot.description == "Leather, knee high.")
        #expect(boot.name == "tall boot")

        #expect(result.rejections.count == 1)
        #expect(result.rejections.first?.id == "bags/broken")
        #expect(result.rejections.first?.reason.contains("not valid JSON") == true)

        let sneakerImage = try #require(result.items.first { $0.product.id == "shoes/blue_sneaker" }).images
        #expect(sneakerImage.map(\.id) == ["0"])
        #expect(try await sneakerImage[0].load() == png)
    }

    @Test("a missing folder ends the stream with notFound")
    func missing() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let absent = folder.url.appendingPathComponent("nope")
        #expect(await streamError(FolderReader(url: absent)) as? ReaderError == .notFound(path: absent.path))
    }
}
