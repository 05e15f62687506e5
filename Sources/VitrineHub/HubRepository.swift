import VitrineCore

/// A model repository on the hub at one revision: `owner/name` plus a branch, tag or commit.
public struct HubRepository: Sendable, Hashable, CustomStringConvertible {
    /// `owner/name`.
    public let id: String
    /// Branch, tag or commit hash (`main` unless told otherwise).
    public let revision: String

    /// Validates a repo id and revision; throws ``HubError/invalidModelSpecifier(_:reason:)``.
    public init(id: String, revision: String = "main") throws(HubError) {
        if let problem = Self.problem(withID: id) {
            throw HubError.invalidModelSpecifier(id, reason: problem)
        }
        if let problem = Self.problem(withRevision: revision) {
            throw HubError.invalidModelSpecifier("\(id)@\(revision)", reason: problem)
        }
        self.id = id
        self.revision = revision
    }

    /// Parses `owner/name` or `owner/name@revision`.
    public init(parsing specifier: String) throws(HubError) {
        guard let at = specifier.firstIndex(of: "@") else {
            try self.init(id: specifier)
            return
        }
        let revision = String(specifier[specifier.index(after: at)...])
        guard !revision.isEmpty else {
            throw HubError.invalidModelSpecifier(specifier, reason: "empty revision after '@'")
        }
        try self.init(id: String(specifier[..<at]), revision: revision)
    }

    public var description: String { revision == "main" ? id : "\(id)@\(revision)" }

    /// `models--owner--name`, the repo's folder in the cache (same as `huggingface_hub`).
    public var cacheFolderName: String {
        (["models"] + id.split(separator: "/").map(String.init)).joined(separator: "--")
    }

    /// Whether ``revision`` is a full commit hash (immutable: no ref to resolve).
    public var revisionIsCommitHash: Bool { Self.isCommitHash(revision) }

    static func isCommitHash(_ string: String) -> Bool {
        Hex.isLowercaseHex(string, count: 40)
    }

    // The hub's own rule: letters, digits, '-', '_', '.'; no '--' or '..'; no leading or trailing
    // '-' or '.'; at most 96 characters. We also insist on an owner, which keeps a mistyped
    // relative path from being taken for a repo.
    static func problem(withID id: String) -> String? {
        let parts = id.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            return "not an existing directory, and not a repo id of the form 'owner/name'"
        }
        guard id.count <= 96 else { return "repo id longer than 96 characters" }
        for part in parts {
            guard !part.isEmpty else { return "empty owner or name in repo id" }
            let allowed = part.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "-_.".unicodeScalars.contains($0)
            }
            guard allowed else { return "repo ids may contain only letters, digits, '-', '_' and '.'" }
            if part.hasPrefix("-") || part.hasPrefix(".") || part.hasSuffix("-") || part.hasSuffix(".") {
                return "repo id parts cannot start or end with '-' or '.'"
            }
        }
        if id.contains("--") || id.contains("..") { return "repo ids cannot contain '--' or '..'" }
        return nil
    }

    // A revision becomes a path under refs/, so it must not climb out of it.
    static func problem(withRevision revision: String) -> String? {
        if revision.isEmpty { return "empty revision" }
        if revision.hasPrefix("/") || revision.hasSuffix("/") { return "revision cannot start or end with '/'" }
        let components = revision.split(separator: "/", omittingEmptySubsequences: false)
        if components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            return "revision has an empty, '.' or '..' path component"
        }
        if revision.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\\" || $0 == "\u{7F}" }) {
            return "revision contains control characters or '\\'"
        }
        return nil
    }
}
