import Foundation
import NIOHTTP1
import Synchronization
import Testing
@testable import VitrineHub

@Suite("Hub environment, names and hashes")
struct HubUnitTests {
    @Test("environment variables are read as huggingface_hub reads them")
    func environment() throws {
        let home = HubFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: home) }

        let defaults = HubEnvironment(environment: ["HOME": home.path])
        #expect(defaults.endpoint == "https://huggingface.co")
        #expect(defaults.cacheDirectory.path == home.appendingPathComponent(".cache/huggingface/hub").path)
        #expect(defaults.token == nil && defaults.offline == false)
        #expect(defaults.metadataTimeout == .seconds(10))

        let xdg = HubEnvironment(environment: ["HOME": home.path, "XDG_CACHE_HOME": "/x/cache"])
        #expect(xdg.cacheDirectory.path == "/x/cache/huggingface/hub")

        // HF_HOME moves the cache and the token file; HF_TOKEN is read through the file's newline.
        let hfHome = home.appendingPathComponent("hf")
        try FileManager.default.createDirectory(at: hfHome, withIntermediateDirectories: true)
        try Data("hf_fromfile\n".utf8).write(to: hfHome.appendingPathComponent("token"))
        let fromFile = HubEnvironment(environment: ["HOME": home.path, "HF_HOME": hfHome.path, "HF_ENDPOINT": "http://mirror.local/", "HF_HUB_OFFLINE": "yes"])
        #expect(fromFile.cacheDirectory.path == hfHome.appendingPathComponent("hub").path)
        #expect(fromFile.token == "hf_fromfile")
        #expect(fromFile.endpoint == "http://mirror.local")
        #expect(fromFile.offline)

        // Explicit variables win: HF_TOKEN over the file, HF_HUB_CACHE over HF_HOME, "~" expanded.
        let explicit = HubEnvironment(environment: [
            "HOME": home.path, "HF_HOME": hfHome.path, "HF_TOKEN": " hf_env ", "HF_HUB_CACHE": "~/models",
            "HF_HUB_OFFLINE": "0", "HF_HUB_ETAG_TIMEOUT": "2.5",
        ])
        #expect(explicit.token == "hf_env")
        #expect(explicit.cacheDirectory.path == home.appendingPathComponent("models").path)
        #expect(!explicit.offline)
        #expect(explicit.metadataTimeout == .milliseconds(2500))

        for value in ["1", "ON", "true", "Yes"] { #expect(HubEnvironment.isTrue(value)) }
        for value in ["0", "off", "", "no", "2"] { #expect(!HubEnvironment.isTrue(value)) }
        #expect(HubEnvironment(environment: ["HOME": home.path, "TRANSFORMERS_OFFLINE": "1"]).offline)
        #expect(HubEnvironment(environment: ["HOME": home.path, "HF_TOKEN": "\n"]).token == nil)
    }

    @Test("repo ids and revisions are validated; the cache folder is named like Python's")
    func repositoryNames() throws {
        let repo = try HubRepository(parsing: "openai/clip-vit-base-patch32")
        #expect(repo.id == "openai/clip-vit-base-patch32" && repo.revision == "main")
        #expect(repo.cacheFolderName == "models--openai--clip-vit-base-patch32")
        let pinned = try HubRepository(parsing: "sentence-transformers/all-MiniLM-L6-v2@refs/pr/3")
        #expect(pinned.revision == "refs/pr/3" && !pinned.revisionIsCommitHash)
        #expect(try HubRepository(parsing: "a/b@\(HubFixture.commit)").revisionIsCommitHash)

        let bad = ["clip", "a/b/c", "/a", "a/", "a/b@", "a/b@../x", "a/b@x//y", "a/-b", "a/b.", "a--x/b", "a/b c", "a/bé",
                   String(repeating: "a", count: 60) + "/" + String(repeating: "b", count: 40)]
        for spec in bad {
            #expect(throws: HubError.self, "\(spec)") { try HubRepository(parsing: spec) }
        }
    }

    @Test("blob digests match git and sha256sum")
    func digests() {
        // `printf 'hello\n' | git hash-object --stdin` and `| sha256sum`.
        let hello = Data("hello\n".utf8)
        #expect(BlobDigest.gitBlobSHA1.hex(of: hello) == "ce013625030ba8dba906f756967f9e9ca394464a")
        #expect(BlobDigest.sha256.hex(of: hello) == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        #expect(BlobDigest(etag: "ce013625030ba8dba906f756967f9e9ca394464a") == .gitBlobSHA1)
        #expect(BlobDigest(etag: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03") == .sha256)
        #expect(BlobDigest(etag: "d41d8cd98f00b204e9800998ecf8427e-1") == nil)
        #expect(BlobDigest(etag: "CE013625030BA8DBA906F756967F9E9CA394464A") == nil)  // etags are normalised to lower case first
    }

    @Test("ETags lose W/ and quotes; Content-Range parses")
    func headers() {
        #expect(HubTransport.normalizeETag("W/\"AbC\"") == "abc")
        #expect(HubTransport.normalizeETag("\"abc\"") == "abc")
        #expect(HubTransport.normalizeETag("abc") == "abc")
        #expect(HubTransport.normalizeETag("\"\"") == nil)
        #expect(HubTransport.normalizeETag(nil) == nil)

        let partial = BlobDownload.contentRange(HTTPHeaders([("Content-Range", "bytes 100-299/300")]))
        #expect(partial?.start == 100 && partial?.total == 300)
        let unsatisfied = BlobDownload.contentRange(HTTPHeaders([("Content-Range", "bytes */300")]))
        #expect(unsatisfied?.start == nil && unsatisfied?.total == 300)
        #expect(BlobDownload.contentRange(HTTPHeaders([("Content-Range", "items 1-2/3")])) == nil)

        #expect(HubTransport.sameOrigin("https://huggingface.co/a", "https://huggingface.co:443/b"))
        #expect(!HubTransport.sameOrigin("https://huggingface.co/a", "https://cdn-lfs.huggingface.co/b"))
        #expect(!HubTransport.sameOrigin("http://127.0.0.1:80/a", "https://127.0.0.1/a"))
        #expect(HubTransport.encodeSegment("refs/pr/1") == "refs%2Fpr%2F1")
        #expect(HubTransport.encodePath("1_Pooling/config.json") == "1_Pooling/config.json")
    }

    @Test("the listing decodes the hub's JSON, sizes and hashes included")
    func listing() throws {
        let json = """
            {"_id": "x", "id": "a/b", "sha": "\(HubFixture.commit)", "siblings": [
              {"rfilename": "config.json", "blobId": "CE013625030BA8DBA906F756967F9E9CA394464A", "size": 6},
              {"rfilename": "model.safetensors", "blobId": "1111111111111111111111111111111111111111", "size": 9,
               "lfs": {"sha256": "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", "size": 9, "pointerSize": 134}},
              {"rfilename": "README.md"}]}
            """
        let listing = try RepoListing(json: Data(json.utf8))
        #expect(listing.commit == HubFixture.commit)
        #expect(listing.files["config.json"]?.etag == "ce013625030ba8dba906f756967f9e9ca394464a")
        #expect(listing.files["model.safetensors"]?.etag == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        #expect(listing.files["README.md"]?.etag == nil)
        #expect(throws: RepoListing.ListingError.self) { try RepoListing(json: Data("{\"siblings\": []}".utf8)) }
        #expect(throws: RepoListing.ListingError.self) { try RepoListing(json: Data("<html>".utf8)) }
    }

    @Test("file selection: configs, tokenizer and safetensors only; shard names must stay inside")
    func selection() throws {
        let repo = try HubRepository(id: "a/b")
        func plan(_ names: [String]) throws(HubError) -> ModelFiles.Plan {
            try ModelFiles.plan(for: RepoListing(commit: HubFixture.commit, files: names.map { RepoListing.File(name: $0) }), repo: repo)
        }
        let clip = try plan(["config.json", "vocab.json", "merges.txt", "model.safetensors", "model.safetensors.index.json",
                             "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "onnx/model.onnx", "README.md", "1_Pooling/config.json"])
        #expect(clip.files == ["config.json", "vocab.json", "merges.txt", "1_Pooling/config.json", "model.safetensors"])
        #expect(clip.shardedIndex == nil)
        #expect(try plan(["config.json", "model.safetensors.index.json"]).shardedIndex == "model.safetensors.index.json")
        // clip-ViT-B-32-multilingual-v1's layout: the Dense module's config and safetensors, not its pickle.
        let multilingual = try plan(["config.json", "vocab.txt", "modules.json", "model.safetensors", "pytorch_model.bin",
                                     "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors", "2_Dense/pytorch_model.bin",
                                     "onnx/model.onnx", "openvino/openvino_model.xml", "x_Dense/config.json", "3_Dense/sub/config.json"])
        #expect(multilingual.files == ["config.json", "vocab.txt", "modules.json", "1_Pooling/config.json", "2_Dense/config.json",
                                       "2_Dense/model.safetensors", "model.safetensors"])
        #expect(throws: HubError.noSafetensors(repo: "a/b", revision: "main", found: ["pytorch_model.bin", "tf_model.h5"])) {
            try plan(["config.json", "pytorch_model.bin", "tf_model.h5", "README.md"])
        }
        #expect(throws: HubError.noWeights(repo: "a/b", revision: "main")) { try plan(["config.json", "README.md"]) }
        #expect(throws: HubError.fileNotFound(repo: "a/b", revision: "main", file: "config.json")) { try plan(["model.safetensors"]) }

        for name in ["../x", "/etc/passwd", "a//b", "a/./b", "", "a\\b"] { #expect(!ModelFiles.isSafeRelativePath(name), "\(name)") }
        for name in ["model-00001-of-00002.safetensors", "sub/model.safetensors"] { #expect(ModelFiles.isSafeRelativePath(name)) }

        let scratch = HubFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let index = scratch.appendingPathComponent("index.json")
        try Data(#"{"weight_map": {"a": "../../outside.safetensors"}}"#.utf8).write(to: index)
        #expect(throws: HubError.self) { try ModelFiles.shards(inIndexAt: index, repo: repo) }
    }

    @Test("progress bar: one redrawn line on a terminal, occasional lines in a log")
    func progressBar() {
        let output = Mutex<[String]>([])
        let log = ProgressBar(isTerminal: false) { text in output.withLock { $0.append(text) } }
        let total: Int64 = 4_000_000
        log.update(DownloadProgress(repo: "a/b", file: "model.safetensors", completedBytes: 0, totalBytes: total, phase: .started))
        for done in stride(from: Int64(100_000), through: total, by: 100_000) {
            log.update(DownloadProgress(repo: "a/b", file: "model.safetensors", completedBytes: done, totalBytes: total, phase: .downloading))
        }
        log.update(DownloadProgress(repo: "a/b", file: "model.safetensors", completedBytes: total, totalBytes: total, phase: .finished))
        #expect(output.withLock { $0 } == [
            "downloading a/b model.safetensors (4.0 MB)\n",
            "  model.safetensors: 25% (1.0 MB)\n",
            "  model.safetensors: 50% (2.0 MB)\n",
            "  model.safetensors: 75% (3.0 MB)\n",
            "  model.safetensors: done (4.0 MB)\n",
        ])

        let screen = Mutex<[String]>([])
        let bar = ProgressBar(isTerminal: true, width: 10) { text in screen.withLock { $0.append(text) } }
        bar.update(DownloadProgress(repo: "a/b", file: "config.json", completedBytes: 0, totalBytes: 2000, phase: .started))
        for done in stride(from: Int64(10), through: 2000, by: 10) {
            bar.update(DownloadProgress(repo: "a/b", file: "config.json", completedBytes: done, totalBytes: 2000, phase: .downloading))
        }
        bar.update(DownloadProgress(repo: "a/b", file: "config.json", completedBytes: 2000, totalBytes: 2000, phase: .finished))
        let frames = screen.withLock { $0 }
        #expect(frames.count < 20)  // redraws are throttled
        #expect(frames.allSatisfy { $0.hasPrefix("\r\u{1B}[2K") })
        #expect(frames.last?.hasSuffix("[##########] 100%  2.0 kB / 2.0 kB\n") == true)
        #expect(frames.first?.contains("[----------]   0%") == true)
        #expect(ProgressBar.bytes(999) == "999 B" && ProgressBar.bytes(1_500_000_000) == "1.5 GB")
    }
}
