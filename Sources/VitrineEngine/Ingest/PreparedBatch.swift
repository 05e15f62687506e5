import VitrineCatalog
import VitrineImage

/// Products whose images are stored and prepared, ready for one encoder pass.
struct PreparedBatch: Sendable {
    struct Item: Sendable {
        /// The record, with its stored images.
        var product: Product
        var fingerprint: String
        var isUpdate: Bool
        /// Image ids the stored version had (their vectors are deleted when not reused).
        var previousImages: [String]
        /// The encoder's input, one per image of `product`, in order.
        var pixels: [RGBImage]
    }

    var items: [Item]
    /// The source ended with this batch.
    var isLast: Bool
}
