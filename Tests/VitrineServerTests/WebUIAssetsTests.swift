import Foundation
import Testing
import VitrineCore
@testable import VitrineServer

/// The web UI's stylesheet and script are files found at start-up; when they are missing the
/// server must refuse to start, saying where it looked, rather than trap or answer 500 later.
@Suite struct WebUIAssetsTests {
    /// A fresh directory holding the given files.
    static func directory(_ files: [String: String]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-assets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, text) in files { try Data(text.utf8).write(to: url.appendingPathComponent(name)) }
        return url
    }

    @Test func theBuildsResourceBundleIsFoundBesideTheTestBinary() throws {
        let assets = try WebUIAssets.load(environment: [:])
        let css = try #require(assets.files["vitrine.css"])
        let js = try #require(assets.files["vitrine.js"])
        #expect(css.contentType == "text/css; charset=utf-8" && js.contentType == "text/javascript; charset=utf-8")
        #expect(css.text.contains("--ink") && js.text.contains("/api/v1/search/image"))
        // The version is the content's hash: a changed file gets a new URL.
        #expect(css.version.count == 16 && css.version.allSatisfy(\.isHexDigit) && css.etag == "\"\(css.version)\"")
        #expect(css.version != js.version)
        #expect(assets.url("vitrine.css") == "/ui/vitrine.css?v=\(css.version)")
    }

    @Test func theOverrideIsTheOnlyPlaceSearchedWhenSet() throws {
        let override = try Self.directory(["vitrine.css": "a{}", "vitrine.js": "0"])
        defer { try? FileManager.default.removeItem(at: override) }
        let assets = try WebUIAssets.load(environment: ["VITRINE_RESOURCES": override.path])
        #expect(assets.files["vitrine.css"]?.text == "a{}" && assets.files["vitrine.js"]?.text == "0")
        // A wrong override stops the server, though the build's own files exist.
        let wrong = override.appendingPathComponent("nowhere").path
        #expect(WebUIAssets.searchPaths(environment: ["VITRINE_RESOURCES": wrong]).map(\.path) == [wrong])
        #expect(throws: WebUIAssetsMissing.self) { try WebUIAssets.load(environment: ["VITRINE_RESOURCES": wrong]) }
    }

    @Test func missingFilesNameEveryPathSearched() throws {
        // One directory has the stylesheet only: a half-copied bundle is not enough.
        let half = try Self.directory(["vitrine.css": "a{}"])
        let empty = try Self.directory([:])
        defer { for url in [half, empty] { try? FileManager.default.removeItem(at: url) } }
        let error = try #require(throws: WebUIAssetsMissing.self) { try WebUIAssets.load(from: [half, empty]) }
        #expect(error.searched == [half.path, empty.path])
        #expect(error.description.contains(half.path) && error.description.contains(empty.path))
        #expect(error.description.contains("VITRINE_RESOURCES") && error.description.contains(WebUIAssets.bundleName))
        #expect(error.kind == .misconfigured)
    }
}
