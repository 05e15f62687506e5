import VitrineCore

/// What is wrong with an evaluation's input: a file, a line of it, and why.
public enum EvalError: VitrineError, Equatable {
    /// A line that cannot be read (its number, 1-based).
    case malformed(path: String, line: Int, reason: String)
    /// The same judgement, run line or query id twice.
    case duplicate(path: String, line: Int, what: String)
    /// A file with nothing to evaluate.
    case empty(path: String, reason: String)
    /// An option or argument out of range (a cutoff, a metric name, a threshold).
    case invalidArgument(String)
    /// `--strict`: ids the qrels name that the queries or the catalog do not have.
    case unknownIDs(String)

    public var kind: ErrorKind {
        switch self {
        case .malformed, .duplicate, .empty, .unknownIDs: .invalidInput
        case .invalidArgument: .invalidArgument
        }
    }

    public var description: String {
        switch self {
        case .malformed(let path, let line, let reason): "\(path):\(line): \(reason)"
        case .duplicate(let path, let line, let what): "\(path):\(line): \(what) appears twice"
        case .empty(let path, let reason): "\(path): \(reason)"
        case .invalidArgument(let message): message
        case .unknownIDs(let message): message
        }
    }
}
