import Crypto
import Foundation

/// The web UI's stylesheet and script, compiled into the binary as string literals rather than
/// shipped as SwiftPM resources: a `vitrine` binary copied on its own still serves the whole UI
/// (a resource bundle must sit beside it, and `Bundle.module` stops the process when it is
/// missing). Sources: `WebUIStylesheet.swift`, `WebUIScript.swift`.
enum WebUIAssets {
    struct File: Sendable {
        var contentType: String
        var text: String
        /// Quoted; also the `?v=` of the page's link, so a new build busts caches.
        var etag: String
        var version: String
    }

    static let files: [String: File] = [
        "vitrine.css": file(stylesheet, type: "text/css; charset=utf-8"),
        "vitrine.js": file(script, type: "text/javascript; charset=utf-8"),
    ]

    static func file(_ text: String, type: String) -> File {
        let digest = SHA256.hash(data: Data(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        return File(contentType: type, text: text, etag: "\"\(digest)\"", version: digest)
    }

    /// The versioned URL of a file: `/ui/vitrine.css?v=<hash>`.
    static func url(_ name: String) -> String {
        "/ui/\(name)" + (files[name].map { "?v=\($0.version)" } ?? "")
    }
}
