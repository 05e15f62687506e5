/// Moves a value the compiler cannot prove sendable into a concurrent closure whose safety the
/// caller guarantees.
struct UnsafeTransfer<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
