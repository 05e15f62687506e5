import VitrineCore

/// Why a tokenizer could not be loaded.
///
/// Every case names the file it concerns, so the message alone tells an operator what to fix.
public enum TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file does not exist or could not be read.
    case unreadableFile(path: String, reason: String)
    /// The file was read but its content is not what the format requires.
    case malformedFile(path: String, reason: String)
    /// A line of the merges file names a token, or produces a token, that the vocabulary lacks.
    case unknownMergeToken(path: String, line: Int, token: String)
    /// The vocabulary lacks a special token the tokenizer needs, such as `<|endoftext|>`.
    case missingSpecialToken(path: String, token: String)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "cannot read tokenizer file \(path): \(reason)"
        case .malformedFile(let path, let reason):
            return "malformed tokenizer file \(path): \(reason)"
        case .unknownMergeToken(let path, let line, let token):
            return "\(path) line \(line): merge uses token \(token.debugDescription), which is not in the vocabulary"
        case .missingSpecialToken(let path, let token):
            return "\(path) lacks the special token \(token.debugDescription)"
        }
    }
}

extension TokenizerError: VitrineError {
    /// Every case is a tokenizer file that cannot work: the model directory is at fault.
    public var kind: ErrorKind { .misconfigured }
}
