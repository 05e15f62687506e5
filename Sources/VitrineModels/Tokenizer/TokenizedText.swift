/// The token ids of one text, ready for the CLIP text encoder.
public struct TokenizedText: Sendable, Equatable, Hashable {
    /// `<|startoftext|>`, the text's tokens, `<|endoftext|>`; never longer than the requested
    /// maximum length, and not padded.
    public var ids: [Int32]
    /// Whether tokens of the text were dropped to fit the maximum length.
    public var truncated: Bool

    public init(ids: [Int32], truncated: Bool) {
        self.ids = ids
        self.truncated = truncated
    }
}
