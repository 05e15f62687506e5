/// The token ids of one text, ready for a text encoder (CLIP's, or a BERT's).
public struct TokenizedText: Sendable, Equatable, Hashable {
    /// The start token (`<|startoftext|>`, BERT's `[CLS]`), the text's tokens, the end token
    /// (`<|endoftext|>`, `[SEP]`); never longer than the requested maximum length, and not padded.
    public var ids: [Int32]
    /// Whether tokens of the text were dropped to fit the maximum length.
    public var truncated: Bool

    public init(ids: [Int32], truncated: Bool) {
        self.ids = ids
        self.truncated = truncated
    }
}
