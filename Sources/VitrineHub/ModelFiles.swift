import Foundation

/// Which files of a hub repo make a model directory Vitrine can load: configs, tokenizer files
/// and safetensors weights. Other weight formats (PyTorch pickles, TensorFlow, Flax, ONNX, …),
/// READMEs and images are never downloaded.
public enum ModelFiles {
    /// Configuration and tokenizer files fetched when the repo has them.
    public static let supportFiles: [String] = [
        "config.json",
        "preprocessor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "merges.txt",
        "vocab.txt",
        // sentence-transformers layout (pooling and normalisation of e.g. all-MiniLM-L6-v2).
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "1_Pooling/config.json",
    ]
    // Other module folders' configs and Dense weights (`2_Dense/…`): ``isModuleFile(_:)``.

    /// Single-file safetensors weights.
    public static let weights = "model.safetensors"
    /// Index of sharded safetensors weights; its `weight_map` names the shards.
    public static let weightsIndex = "model.safetensors.index.json"
    /// Files that must be present for a model directory to be usable.
    public static let required = ["config.json"]

    // Weights we recognise but cannot load, to explain why a repo is unusable.
    static let foreignWeightSuffixes = [".bin", ".h5", ".msgpack", ".onnx", ".ckpt", ".pt", ".pth", ".gguf", ".mlmodel"]

    /// What to fetch from a repo, before the shards (which are known only once the index is read).
    struct Plan: Equatable {
        var files: [String]
        var shardedIndex: String?
    }

    /// Whether `name` is a file of a sentence-transformers module folder that Vitrine reads: the
    /// config, and the safetensors weights of a Dense module (`2_Dense/model.safetensors`).
    static func isModuleFile(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let underscore = parts[0].firstIndex(of: "_"),
              parts[0][..<underscore].allSatisfy({ $0.isASCII && $0.isNumber }), !parts[0][..<underscore].isEmpty
        else { return false }
        return parts[1] == "config.json" || parts[1] == "model.safetensors"
    }

    static func plan(for listing: RepoListing, repo: HubRepository) throws(HubError) -> Plan {
        let names = Set(listing.files.keys)
        var files = supportFiles.filter(names.contains)
        files += names.filter { isModuleFile($0) && !files.contains($0) }.sorted()
        var index: String?
        if names.contains(weights) {
            files.append(weights)
        } else if names.contains(weightsIndex) {
            files.append(weightsIndex)
            index = weightsIndex
        } else {
            let foreign = names.filter { name in foreignWeightSuffixes.contains { name.hasSuffix($0) } }.sorted()
            if foreign.isEmpty {
                throw .noWeights(repo: repo.id, revision: repo.revision)
            }
            throw .noSafetensors(repo: repo.id, revision: repo.revision, found: foreign)
        }
        for name in required where !names.contains(name) {
            throw .fileNotFound(repo: repo.id, revision: repo.revision, file: name)
        }
        return Plan(files: files, shardedIndex: index)
    }

    /// The shard files named by a `model.safetensors.index.json`, in first-use order.
    ///
    /// Names come from the network, so each must be a plain relative path inside the snapshot.
    static func shards(inIndexAt url: URL, repo: HubRepository) throws(HubError) -> [String] {
        struct Index: Decodable { var weight_map: [String: String] }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .fileSystem(path: url.path, operation: "read", reason: error.localizedDescription)
        }
        let index: Index
        do {
            index = try JSONDecoder().decode(Index.self, from: data)
        } catch {
            throw .invalidResponse(repo: repo.id, url: weightsIndex, reason: "not a safetensors index with a 'weight_map' (\(error))")
        }
        var seen = Set<String>()
        var shards: [String] = []
        for name in index.weight_map.values.sorted() where seen.insert(name).inserted {
            guard isSafeRelativePath(name) else {
                throw .invalidResponse(repo: repo.id, url: weightsIndex, reason: "shard name '\(name)' is not a relative path inside the repo")
            }
            shards.append(name)
        }
        if shards.isEmpty {
            throw .invalidResponse(repo: repo.id, url: weightsIndex, reason: "the index names no shards")
        }
        return shards
    }

    static func isSafeRelativePath(_ name: String) -> Bool {
        guard !name.isEmpty, !name.hasPrefix("/"), !name.contains("\\"), !name.contains("\0") else { return false }
        return !name.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty || $0 == "." || $0 == ".." }
    }
}
