import AsyncHTTPClient
import Foundation

/// Turns a `--model` argument into a model directory.
public enum ModelLocation {
    /// Resolves a model specifier.
    ///
    /// - An existing directory is used as is (it must be in Hugging Face layout).
    /// - `owner/name` or `owner/name@revision` is pulled from the hub into the cache, once,
    ///   and the snapshot directory is returned.
    /// - Anything else is an error saying which of the two was expected.
    ///
    /// A relative directory wins over a repo id of the same spelling.
    /// - Throws: ``HubError``.
    public static func resolve(
        _ specifier: String,
        environment: HubEnvironment = HubEnvironment(),
        httpClient: HTTPClient = .shared,
        progress: DownloadProgressHandler? = nil
    ) async throws(HubError) -> URL {
        let trimmed = specifier.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw .invalidModelSpecifier(specifier, reason: "empty")
        }
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        let path = HubEnvironment.expandingTilde(trimmed, home: home)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw .invalidModelSpecifier(specifier, reason: "it is a file, not a model directory")
            }
            return URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
        }
        if looksLikePath(trimmed) {
            throw .invalidModelSpecifier(specifier, reason: "no such directory")
        }
        let repo = try HubRepository(parsing: trimmed)
        return try await HubClient(environment: environment, httpClient: httpClient).snapshot(repo, progress: progress)
    }

    // Paths a user clearly meant as paths get "no such directory" rather than a repo-id lecture.
    static func looksLikePath(_ specifier: String) -> Bool {
        specifier.hasPrefix("/") || specifier.hasPrefix("./") || specifier.hasPrefix("../") || specifier.hasPrefix("~")
            || specifier == "." || specifier == ".."
    }
}
