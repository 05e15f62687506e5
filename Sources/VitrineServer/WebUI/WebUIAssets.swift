import Crypto
import Foundation
import VitrineCore

/// The web UI's stylesheet and script: real files in `Sources/VitrineServer/Resources/`, which
/// SwiftPM copies into the resource bundle `Vitrine_VitrineServer.resources` beside the binary.
///
/// They are found and read once, when the server starts, and a missing bundle stops `vitrine
/// serve` then, with the paths searched. SwiftPM's own `Bundle.module` would instead stop the
/// process with a trap on first use.
struct WebUIAssets: Sendable {
    struct File: Sendable {
        var contentType: String
        var text: String
        /// Quoted; also the `?v=` of the page's link, so a new build busts caches.
        var etag: String
        var version: String
    }

    /// By name: `vitrine.css`, `vitrine.js`.
    let files: [String: File]

    static let bundleName = "Vitrine_VitrineServer.resources"
    static let types = ["vitrine.css": "text/css; charset=utf-8", "vitrine.js": "text/javascript; charset=utf-8"]

    /// Reads the files from the first directory of ``searchPaths(environment:)`` that has both.
    static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> WebUIAssets {
        try load(from: searchPaths(environment: environment))
    }

    /// Where the files may be: `VITRINE_RESOURCES` alone when it is set (a wrong override should
    /// stop the server, not fall back silently to other files); otherwise the resource bundle
    /// beside the executable (symbolic links followed, so a linked `vitrine` finds its build),
    /// then the one beside the main bundle.
    static func searchPaths(environment: [String: String]) -> [URL] {
        if let override = environment["VITRINE_RESOURCES"], !override.isEmpty {
            return [URL(fileURLWithPath: override)]
        }
        var candidates: [URL] = []
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent(bundleName))
        }
        candidates.append(Bundle.main.bundleURL.appendingPathComponent(bundleName))
        var seen = Set<String>()
        return candidates.filter { seen.insert($0.standardizedFileURL.path).inserted }
    }

    /// Reads the files from the first of `candidates` that has them all.
    /// - Throws: ``WebUIAssetsMissing`` naming every candidate when none does.
    static func load(from candidates: [URL]) throws -> WebUIAssets {
        for directory in candidates {
            var files: [String: File] = [:]
            for (name, type) in types {
                guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path),
                      let text = String(data: data, encoding: .utf8) else { break }
                files[name] = file(text, type: type)
            }
            if files.count == types.count { return WebUIAssets(files: files) }
        }
        throw WebUIAssetsMissing(searched: candidates.map(\.path))
    }

    static func file(_ text: String, type: String) -> File {
        let digest = Hex.encode(SHA256.hash(data: Data(text.utf8)).prefix(8))
        return File(contentType: type, text: text, etag: "\"\(digest)\"", version: digest)
    }

    /// The versioned URL of a file: `/ui/vitrine.css?v=<hash>`.
    func url(_ name: String) -> String {
        "/ui/\(name)" + (files[name].map { "?v=\($0.version)" } ?? "")
    }
}

/// The web UI's files are not where the server looks for them (a binary copied without the
/// resource bundle beside it).
struct WebUIAssetsMissing: VitrineError {
    var searched: [String]
    var kind: ErrorKind { .misconfigured }

    var description: String {
        "the web UI's files (vitrine.css, vitrine.js) are in none of \(searched.joined(separator: ", ")); "
            + "copy \(WebUIAssets.bundleName) from the build directory beside the vitrine binary, or set VITRINE_RESOURCES to its path"
    }
}
