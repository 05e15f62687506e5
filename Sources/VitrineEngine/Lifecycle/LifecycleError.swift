import Foundation

/// A lifecycle command (reindex, backup, restore) that cannot go on, with the input it concerns
/// and what to do.
public struct LifecycleError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
