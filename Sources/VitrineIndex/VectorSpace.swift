import Foundation

/// Where a data store's vector indexes live, each under a name its catalog records (`index`, and
/// `index-2`, `index-3`, … built by reindexes): directories of the data directory
/// (``EmbeddedVectorSpace``) or collections on a Milvus server (`MilvusVectorSpace`).
///
/// Besides the indexes, a space keeps one small marker per index under construction (a reindex's
/// build target, so an interrupted build can be resumed); an index without one is live or retired.
public protocol VectorSpace: Sendable {
    /// The backend's kind (`embedded`, `milvus`) and where it is, without secrets.
    var kind: String { get }
    var location: String { get }
    /// Opens index `name`: as its writer, created when missing; as a reader beside a writer,
    /// throwing ``VectorIndexError/notFound(file:)`` when missing. The dimension and metric must
    /// match an existing index's.
    func open(_ name: String, configuration: VectorStoreConfiguration, writer: Bool) throws -> any VectorStore
    /// Whether index `name` exists.
    func exists(_ name: String) throws -> Bool
    /// The names of the indexes present.
    func indexNames() throws -> [String]
    /// The build marker of index `name`, if any.
    func marker(of name: String) throws -> Data?
    /// Sets (or with nil removes) the build marker of index `name`, creating an empty index
    /// directory or record when needed. Atomic: a marker is whole or absent.
    func setMarker(_ marker: Data?, of name: String) throws
    /// Removes index `name` and its marker.
    func remove(_ name: String) throws
    /// Bytes index `name` takes on this machine, when the space can tell.
    func size(of name: String) -> Int64?
    /// Lets go of connections (indexes opened from the space close on their own).
    func close()
}
