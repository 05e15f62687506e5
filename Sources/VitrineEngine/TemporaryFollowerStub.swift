import Foundation
import VitrineIndex
extension EmbeddedVectorStore {
    convenience init(following directory: URL, configuration: VectorStoreConfiguration) throws {
        try self.init(directory: directory, configuration: configuration)
    }
    func refresh() throws {}
}
