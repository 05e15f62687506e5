import Foundation
import VitrineCore

/// A lifecycle command (reindex, backup, restore) that cannot go on, with the input it concerns
/// and what to do.
public struct LifecycleError: VitrineError, Sendable {
    public var description: String
    public var kind: ErrorKind

    public init(_ description: String, kind: ErrorKind = .internalFailure) {
        self.description = description
        self.kind = kind
    }
}
