import Foundation

/// The parameter names and shapes of a `BertModel` or `DistilBertModel` checkpoint, derived from
/// its config alone (the parameters a sentence model uses: no pooler).
public enum BERTCheckpointLayout {
    public static func parameters(of config: BERTConfig) -> [(name: String, shape: [Int])] {
        let c = config.encoder, w = c.hiddenSize, hidden = c.intermediateSize
        var list: [(String, [Int])] = [
            ("embeddings.word_embeddings.weight", [config.vocabSize, w]),
            ("embeddings.position_embeddings.weight", [config.maxPositions, w]),
        ]
        if config.typeVocabSize > 0 { list.append(("embeddings.token_type_embeddings.weight", [config.typeVocabSize, w])) }
        list += [("embeddings.LayerNorm.weight", [w]), ("embeddings.LayerNorm.bias", [w])]
        func linear(_ name: String, _ out: Int, _ inFeatures: Int) {
            list += [("\(name).weight", [out, inFeatures]), ("\(name).bias", [out])]
        }
        func norm(_ name: String) { list += [("\(name).weight", [w]), ("\(name).bias", [w])] }
        for i in 0..<c.layers {
            switch config.architecture {
            case .bert:
                let p = "encoder.layer.\(i)"
                for n in ["query", "key", "value"] { linear("\(p).attention.self.\(n)", w, w) }
                linear("\(p).attention.output.dense", w, w)
                norm("\(p).attention.output.LayerNorm")
                linear("\(p).intermediate.dense", hidden, w)
                linear("\(p).output.dense", w, hidden)
                norm("\(p).output.LayerNorm")
            case .distilbert:
                let p = "transformer.layer.\(i)"
                for n in ["q_lin", "k_lin", "v_lin", "out_lin"] { linear("\(p).attention.\(n)", w, w) }
                norm("\(p).sa_layer_norm")
                linear("\(p).ffn.lin1", hidden, w)
                linear("\(p).ffn.lin2", w, hidden)
                norm("\(p).output_layer_norm")
            }
        }
        return list
    }
}

extension RandomCheckpoint {
    /// The files of a sentence-transformers directory besides the weights.
    static let sentenceFiles = ["modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"]

    /// A random-weight sentence-transformers model like `source`: the encoder's weights where
    /// `modules.json` puts the Transformer module, each Dense module's `linear` weights in its
    /// folder, and every config and tokenizer file copied.
    static func writeSentenceModel(like source: URL, to destination: URL, seed: UInt64, dtype: SafetensorsFile.DType) throws {
        let fm = FileManager.default
        var encoderPath = ""
        var densePaths: [String] = []
        var otherFiles: [String] = []
        let modulesURL = source.appendingPathComponent("modules.json")
        if fm.fileExists(atPath: modulesURL.path) {
            guard let modules = try JSONSerialization.jsonObject(with: Data(contentsOf: modulesURL)) as? [[String: Any]] else {
                throw ModelError.malformedConfig(path: modulesURL.path, reason: "not a JSON list of modules")
            }
            for module in modules {
                let type = (module["type"] as? String)?.split(separator: ".").last ?? ""
                let path = module["path"] as? String ?? ""
                guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                    throw ModelError.malformedConfig(path: modulesURL.path, reason: "module path \"\(path)\" leaves the directory")
                }
                if type == "Transformer" { encoderPath = path }
                if type == "Dense" { densePaths.append(path) }
                if !path.isEmpty { otherFiles.append("\(path)/config.json") }
            }
        }
        func folder(_ path: String) -> (URL, URL) {
            path.isEmpty ? (source, destination)
                : (source.appendingPathComponent(path), destination.appendingPathComponent(path))
        }
        let (encoderSource, encoderDestination) = folder(encoderPath)
        let configURL = encoderSource.appendingPathComponent("config.json")
        let config = try BERTConfig(contentsOf: configURL)
        try fm.createDirectory(at: encoderDestination, withIntermediateDirectories: true)

        var generator = NormalGenerator(seed: seed)
        try writeWeights(BERTCheckpointLayout.parameters(of: config), generator: &generator, dtype: dtype,
                         to: encoderDestination.appendingPathComponent("model.safetensors"))
        try markConfig(configURL, seed: seed, into: encoderDestination)
        try copy(companionFiles + sentenceFiles, from: encoderSource, to: encoderDestination)
        try copy(sentenceFiles + otherFiles, from: source, to: destination)

        for path in densePaths {
            let (from, to) = folder(path)
            let dense = try SentenceDense.Config(directory: from)
            var parameters = [(name: "linear.weight", shape: [dense.outFeatures, dense.inFeatures])]
            if dense.hasBias { parameters.append((name: "linear.bias", shape: [dense.outFeatures])) }
            try writeWeights(parameters, generator: &generator, dtype: dtype, to: to.appendingPathComponent("model.safetensors"))
        }
    }
}
