import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VitrineCatalog
import VitrineEngine
@testable import VitrineServer

@Suite("product routes")
struct ProductRouteTests {
    static let bearer: HTTPFields = [.authorization: "Bearer \(ServerFixtures.apiKey)"]

    static func form(_ record: String, photos: [String]) -> MultipartBuilder {
        var form = MultipartBuilder()
        form.add(name: "product", contentType: "application/json", data: Data(record.utf8))
        for photo in photos { form.add(name: "image", filename: photo, data: ServerFixtures.photo(photo)) }
        return form
    }

    @Test func productRecordWithImageURLs() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let response = try await client.execute(uri: "/api/v1/products/p4", method: .get)
            #expect(response.status == .ok)
            let product = try response.decode(ProductResponse.self)
            #expect(product.id == "p4")
            #expect(product.name == "leather boots")
            #expect(product.categoryName == "Shoes")
            #expect(product.images.map(\.id) == ["0", "1"])
            #expect(product.images.allSatisfy { $0.url.hasPrefix("/images/") && $0.width > 0 && $0.height > 0 })

            let encoded = try await client.execute(uri: "/api/v1/products/bag%205%2Fx", method: .get)
            #expect(try encoded.decode(ProductResponse.self).id == "bag 5/x")

            let unknown = try await client.execute(uri: "/api/v1/products/p404", method: .get)
            #expect(unknown.status == .notFound)
            #expect(try unknown.error().message.contains("p404"))
        }
    }

    @Test func writesAreForbiddenWithoutConfiguredKeys() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let form = Self.form(#"{"id": "n1", "name": "new"}"#, photos: ["gray.jpg"])
            for (method, uri) in [(HTTPRequest.Method.post, "/api/v1/products"), (.put, "/api/v1/products/p1"), (.delete, "/api/v1/products/p1")] {
                let response = try await client.execute(uri: uri, method: method, headers: Self.bearer.merging([.contentType: form.contentType]),
                                                        body: form.finished())
                #expect(response.status == .forbidden, "\(method) \(uri)")
                let error = try response.error()
                #expect(error.code == "writes_disabled")
                #expect(error.message.contains("writes are disabled"))
            }
            #expect(try await client.execute(uri: "/api/v1/products/p1", method: .get).status == .ok)
        }
    }

    @Test func writesNeedAValidBearerKey() async throws {
        let server = try await ServerFixtures.server { $0.apiKeys = [ServerFixtures.apiKey] }
        try await ServerFixtures.test(server) { client in
            let form = Self.form(#"{"id": "n1", "name": "new"}"#, photos: ["gray.jpg"])
            let cases: [HTTPFields] = [
                [:],
                [.authorization: "Bearer wrong-key-0123456789abcdef"],
                [.authorization: "Basic \(ServerFixtures.apiKey)"],
                [.authorization: "Bearer \(ServerFixtures.apiKey)x"],
            ]
            for headers in cases {
                let response = try await client.execute(uri: "/api/v1/products", method: .post,
                                                        headers: headers.merging([.contentType: form.contentType]), body: form.finished())
                #expect(response.status == .unauthorized, "\(headers)")
                #expect(try response.error().code == "unauthorized")
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            }
            #expect(try await client.execute(uri: "/api/v1/products/n1", method: .get).status == .notFound)
        }
    }

    @Test func createReplaceDeleteThroughTheWriterLock() async throws {
        let server = try await ServerFixtures.server { $0.apiKeys = [ServerFixtures.apiKey, "another-key-0123456789"] }
        try await ServerFixtures.test(server) { client in
            let create = Self.form(#"{"id": "n1", "name": "green coat", "category": "coats", "category_name": "Coats", "market": "CZ", "extra": {"brand": "x"}}"#,
                                   photos: ["orient_6.png", "gray_alpha.png"])
            let created = try await client.execute(uri: "/api/v1/products", method: .post,
                                                   headers: Self.bearer.merging([.contentType: create.contentType]), body: create.finished())
            #expect(created.status == .created, "\(created.text)")
            #expect(created.headers[.location] == "/api/v1/products/n1")
            let product = try created.decode(ProductResponse.self)
            #expect(product.name == "green coat")
            #expect(product.market == "cz")
            #expect(product.source == "api")
            #expect(product.extra == ["brand": "x"])
            #expect(product.images.count == 2)

            // The reader sees it: the record, the facets, and the index (search by its photo).
            #expect(try await client.execute(uri: "/api/v1/products/n1", method: .get).decode(ProductResponse.self) == product)
            let byPhoto = try await client.execute(uri: "/api/v1/search/image?k=1", method: .post, body: ByteBuffer(bytes: ServerFixtures.photo("orient_6.png")))
            #expect(try byPhoto.decode(SearchResponse.self).results.first?.id == "n1")
            let categories = try await client.execute(uri: "/api/v1/categories", method: .get).text
            #expect(categories.contains("\"coats\""))

            // Creating it again is a conflict.
            let again = try await client.execute(uri: "/api/v1/products", method: .post,
                                                 headers: Self.bearer.merging([.contentType: create.contentType]), body: create.finished())
            #expect(again.status == .conflict)
            #expect(try again.error().code == "already_exists")

            // Replace with the other key: new name, one image.
            let replace = Self.form(#"{"name": "dark green coat"}"#, photos: ["lossless.webp"])
            let replaced = try await client.execute(uri: "/api/v1/products/n1", method: .put,
                                                    headers: [.authorization: "Bearer another-key-0123456789", .contentType: replace.contentType],
                                                    body: replace.finished())
            #expect(replaced.status == .ok, "\(replaced.text)")
            let updated = try replaced.decode(ProductResponse.self)
            #expect(updated.name == "dark green coat")
            #expect(updated.images.count == 1)
            #expect(try await client.execute(uri: "/api/v1/products/n1", method: .get).decode(ProductResponse.self).name == "dark green coat")

            let replaceUnknown = try await client.execute(uri: "/api/v1/products/n2", method: .put,
                                                          headers: Self.bearer.merging([.contentType: replace.contentType]), body: replace.finished())
            #expect(replaceUnknown.status == .notFound)

            let mismatch = Self.form(#"{"id": "other", "name": "x"}"#, photos: ["gray.jpg"])
            let mismatched = try await client.execute(uri: "/api/v1/products/n1", method: .put,
                                                      headers: Self.bearer.merging([.contentType: mismatch.contentType]), body: mismatch.finished())
            #expect(mismatched.status == .badRequest)

            let deleted = try await client.execute(uri: "/api/v1/products/n1", method: .delete, headers: Self.bearer)
            #expect(deleted.status == .noContent)
            #expect(try await client.execute(uri: "/api/v1/products/n1", method: .get).status == .notFound)
            let afterDelete = try await client.execute(uri: "/api/v1/search/image?k=10", method: .post, body: ByteBuffer(bytes: ServerFixtures.photo("lossless.webp")))
            #expect(try !afterDelete.decode(SearchResponse.self).results.contains { $0.id == "n1" })
            let deleteAgain = try await client.execute(uri: "/api/v1/products/n1", method: .delete, headers: Self.bearer)
            #expect(deleteAgain.status == .notFound)
        }
    }

    @Test func badWritesAre4xx() async throws {
        let server = try await ServerFixtures.server { $0.apiKeys = [ServerFixtures.apiKey] }
        try await ServerFixtures.test(server) { client in
            func post(_ form: MultipartBuilder) async throws -> TestResponse {
                try await client.execute(uri: "/api/v1/products", method: .post,
                                         headers: Self.bearer.merging([.contentType: form.contentType]), body: form.finished())
            }
            let notJSON = try await post(Self.form("{not json", photos: ["gray.jpg"]))
            #expect(notJSON.status == .badRequest)
            #expect(try notJSON.error().code == "invalid_product")

            let noName = try await post(Self.form(#"{"id": "x1"}"#, photos: ["gray.jpg"]))
            #expect(noName.status == .badRequest)
            #expect(try noName.error().message.contains("name"))

            let noImage = try await post(Self.form(#"{"id": "x1", "name": "n"}"#, photos: []))
            #expect(noImage.status == .badRequest)

            var notAnImage = Self.form(#"{"id": "x2", "name": "n"}"#, photos: [])
            notAnImage.add(name: "image", filename: "a.txt", data: Data("plain text".utf8))
            let refused = try await post(notAnImage)
            #expect(refused.status == .unprocessableContent, "\(refused.text)")
            #expect(try refused.error().code == "invalid_product")

            let json = try await client.execute(uri: "/api/v1/products", method: .post,
                                                headers: Self.bearer.merging([.contentType: "application/json"]), body: ByteBuffer(string: "{}"))
            #expect(json.status == .unsupportedMediaType)

            #expect(try await client.execute(uri: "/api/v1/products/x2", method: .get).status == .notFound)
        }
    }

    /// A write the catalog already refuses (delete or replace of an unknown id, create of a known
    /// one) answers without taking the writer lock, so a `vitrine ingest` started next is not
    /// refused for the writer's idle time.
    @Test func writesThatChangeNothingTakeNoLock() async throws {
        let server = try await ServerFixtures.server {
            $0.apiKeys = [ServerFixtures.apiKey]
            $0.writerIdle = .seconds(30)  // a write that took the lock would keep it
        }
        let directory = server.service.store.directory
        let existing = try #require(try server.service.store.catalog.allProductIDs().first)
        try await ServerFixtures.test(server) { client in
            let delete = try await client.execute(uri: "/api/v1/products/nonexist", method: .delete, headers: Self.bearer)
            #expect(delete.status == .notFound)
            let replace = Self.form(#"{"id": "nonexist", "name": "n"}"#, photos: ["gray.jpg"])
            let put = try await client.execute(uri: "/api/v1/products/nonexist", method: .put,
                                               headers: Self.bearer.merging([.contentType: replace.contentType]), body: replace.finished())
            #expect(put.status == .notFound)
            let create = Self.form(#"{"id": "\#(existing)", "name": "n"}"#, photos: ["gray.jpg"])
            let post = try await client.execute(uri: "/api/v1/products", method: .post,
                                                headers: Self.bearer.merging([.contentType: create.contentType]), body: create.finished())
            #expect(post.status == .conflict)
            #expect(try WriterLock.currentHolder(directory) == nil)
            let lock = try WriterLock.acquire(directory, holder: "vitrine ingest")
            lock.release()
        }
    }

    @Test func aWriteWhileAnotherProcessHoldsTheLockIs409NamingIt() async throws {
        let server = try await ServerFixtures.server { $0.apiKeys = [ServerFixtures.apiKey] }
        let lock = try WriterLock.acquire(server.service.store.directory, holder: "vitrine ingest elsewhere")
        defer { lock.release() }
        try await ServerFixtures.test(server) { client in
            let form = Self.form(#"{"id": "n1", "name": "new"}"#, photos: ["gray.jpg"])
            let response = try await client.execute(uri: "/api/v1/products", method: .post,
                                                    headers: Self.bearer.merging([.contentType: form.contentType]), body: form.finished())
            #expect(response.status == .conflict)
            let error = try response.error()
            #expect(error.code == "writer_busy")
            #expect(error.message.contains("vitrine ingest elsewhere"))
        }
    }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var result = self
        for field in other { result[field.name] = field.value }
        return result
    }
}
