import VitrineCore

/// Why a model directory could not be loaded. Every case names the file or tensor concerned.
public enum ModelError: Error, CustomStringConvertible, Sendable, Equatable {
    case missingFile(path: String, reason: String)
    case malformedConfig(path: String, reason: String)
    case unsupportedModel(path: String, reason: String)
    case malformedWeights(path: String, reason: String)
    case missingTensor(name: String, path: String)
    case wrongShape(name: String, path: String, expected: [Int], actual: [Int])
    case invalidInput(input: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path, reason): "\(path): missing: \(reason)"
        case let .malformedConfig(path, reason): "\(path): malformed config: \(reason)"
        case let .unsupportedModel(path, reason): "\(path): unsupported model: \(reason)"
        case let .malformedWeights(path, reason): "\(path): malformed weights: \(reason)"
        case let .missingTensor(name, path): "\(path): tensor \(name) is missing from the checkpoint"
        case let .wrongShape(name, path, expected, actual):
            "\(path): tensor \(name) has shape \(actual), the config implies \(expected)"
        case let .invalidInput(input, reason): "\(input): \(reason)"
        }
    }
}

extension ModelError {
    /// One text's token ids against a model's limits: 1 to `maxPositions` of them, each a row of
    /// the embedding table.
    static func checkTokenIDs(_ ids: [Int32], maxPositions: Int, vocabSize: Int) throws {
        guard !ids.isEmpty, ids.count <= maxPositions else {
            throw ModelError.invalidInput(input: "token ids", reason: "\(ids.count) tokens; the model takes 1 to \(maxPositions)")
        }
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocabSize }) {
            throw ModelError.invalidInput(input: "token ids", reason: "token id \(bad) is outside the vocabulary of \(vocabSize)")
        }
    }
}

extension ModelError: VitrineError {
    public var kind: ErrorKind {
        switch self {
        case .missingFile, .malformedConfig, .unsupportedModel, .malformedWeights, .missingTensor, .wrongShape: .misconfigured
        case .invalidInput: .invalidInput
        }
    }
}
