import VitrineCore

/// Why a model could not be found, fetched or stored. Every case names the repository (and the
/// file, where there is one) and says what to do about it.
public enum HubError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `--model` was neither an existing directory nor an `owner/name[@revision]` repo id.
    case invalidModelSpecifier(String, reason: String)
    /// The hub refused access (HTTP 401/403): the repo is gated or private, or the token is wrong.
    case accessDenied(repo: String, status: Int, tokenSent: Bool)
    /// The repo does not exist (or is private and no token was sent: the hub does not say which).
    case repositoryNotFound(repo: String, tokenSent: Bool)
    /// The repo exists but the branch, tag or commit does not.
    case revisionNotFound(repo: String, revision: String)
    /// A file the listing promised (or a shard the index names) is not in the repo.
    case fileNotFound(repo: String, revision: String, file: String)
    /// The repo has weights, but none in safetensors format.
    case noSafetensors(repo: String, revision: String, found: [String])
    /// The repo has no model weights at all.
    case noWeights(repo: String, revision: String)
    /// The hub could not be reached.
    case network(endpoint: String, repo: String, reason: String)
    /// The hub answered with a status this client does not handle.
    case unexpectedStatus(repo: String, url: String, status: Int)
    /// The hub answered with something that does not follow its protocol.
    case invalidResponse(repo: String, url: String, reason: String)
    /// The downloaded bytes do not hash to what the hub announced; the bad blob was deleted.
    case checksumMismatch(repo: String, file: String, algorithm: String, expected: String, actual: String)
    /// The download ended with fewer or more bytes than announced (after retrying).
    case sizeMismatch(repo: String, file: String, expected: Int64, actual: Int64)
    /// Offline (or unreachable hub) and the cache lacks what is needed.
    case notCached(repo: String, revision: String, cacheDirectory: String, missing: [String])
    /// Reading or writing the cache failed.
    case fileSystem(path: String, operation: String, reason: String)

    public var description: String {
        switch self {
        case .invalidModelSpecifier(let spec, let reason):
            return "invalid model '\(spec)': \(reason). Pass a model directory (Hugging Face layout) or a hub repo id such as 'openai/clip-vit-base-patch32' or 'owner/name@revision'."
        case .accessDenied(let repo, let status, let tokenSent):
            let hint = tokenSent
                ? "the token in HF_TOKEN (or $HF_HOME/token) does not grant access: check it, and accept the repo's terms on its page if it is gated"
                : "the repo is gated or private: set HF_TOKEN to a Hugging Face access token (or write one to $HF_HOME/token)"
            return "access to '\(repo)' denied (HTTP \(status)): \(hint)."
        case .repositoryNotFound(let repo, let tokenSent):
            let hint = tokenSent ? "check the spelling" : "check the spelling; if it is private or gated, set HF_TOKEN"
            return "repository '\(repo)' not found on the hub: \(hint)."
        case .revisionNotFound(let repo, let revision):
            return "revision '\(revision)' not found in '\(repo)': check the branch, tag or commit after '@'."
        case .fileNotFound(let repo, let revision, let file):
            return "file '\(file)' not found in '\(repo)' at '\(revision)'."
        case .noSafetensors(let repo, let revision, let found):
            return "'\(repo)' at '\(revision)' has no safetensors weights (found: \(found.joined(separator: ", "))). Vitrine loads only model.safetensors: convert the checkpoint (e.g. load it with transformers and save_pretrained(dir, safe_serialization=True)) and pass that directory, or pick a revision that has safetensors."
        case .noWeights(let repo, let revision):
            return "'\(repo)' at '\(revision)' contains no model weights (no model.safetensors or model.safetensors.index.json)."
        case .network(let endpoint, let repo, let reason):
            return "cannot reach the Hugging Face Hub at \(endpoint) to fetch '\(repo)' (\(reason)), and it is not fully in the cache. Check the network or HF_ENDPOINT, set HF_HUB_OFFLINE=1 to use only cached models, or pass a local model directory."
        case .unexpectedStatus(let repo, let url, let status):
            return "the hub answered HTTP \(status) for \(url) while fetching '\(repo)'."
        case .invalidResponse(let repo, let url, let reason):
            return "unexpected answer from \(url) while fetching '\(repo)': \(reason)."
        case .checksumMismatch(let repo, let file, let algorithm, let expected, let actual):
            return "checksum mismatch for '\(file)' from '\(repo)': expected \(algorithm) \(expected), got \(actual). The corrupt download was deleted; run again to retry."
        case .sizeMismatch(let repo, let file, let expected, let actual):
            return "incomplete download of '\(file)' from '\(repo)': expected \(expected) bytes, got \(actual). Run again to resume."
        case .notCached(let repo, let revision, let cacheDirectory, let missing):
            return "'\(repo)' at '\(revision)' is not fully in the cache \(cacheDirectory) (missing: \(missing.joined(separator: ", "))). Unset HF_HUB_OFFLINE and connect to download it, or pass a local model directory."
        case .fileSystem(let path, let operation, let reason):
            return "cannot \(operation) \(path): \(reason)."
        }
    }
}

extension HubError: VitrineError {
    public var kind: ErrorKind {
        switch self {
        case .invalidModelSpecifier: .notFound  // neither a directory nor a repo id: no such model
        case .repositoryNotFound, .revisionNotFound, .fileNotFound: .notFound
        case .accessDenied, .noSafetensors, .noWeights: .misconfigured
        case .network, .unexpectedStatus, .invalidResponse, .checksumMismatch, .sizeMismatch: .dependency
        case .notCached: .unavailable
        case .fileSystem: .internalFailure
        }
    }
}
