import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Fetches one file of a repo into the cache's `blobs/`: streamed to `<etag>.incomplete`,
/// resumed with `Range` after a dropped connection (in this run or a later one), verified
/// against its etag, then renamed into place. Never holds the file in memory.
struct BlobDownload: Sendable {
    let transport: HubTransport
    let cache: HubCache
    let repo: HubRepository
    let commit: String
    let file: RepoListing.File
    /// Extra attempts after a network failure; the count restarts whenever bytes arrive.
    let maxRetries: Int
    let progress: DownloadProgressHandler?

    /// `{endpoint}/{repo}/resolve/{commit}/{file}`; pinned to the commit so every file comes
    /// from the same snapshot even if the branch moves meanwhile.
    var url: String {
        "\(transport.environment.endpoint)/\(repo.id)/resolve/\(commit)/\(HubTransport.encodePath(file.name))"
    }

    /// Downloads and verifies the file; returns its etag, the blob's name.
    func run() async throws(HubError) -> String {
        var etag = file.etag
        var total = file.size
        var failures = 0
        var reportedStart = false

        attempts: while true {
            let partial = etag.map { cache.incompleteBlob(repo, etag: $0) }
            var resumeFrom = partial.map(Self.fileSize) ?? 0
            if let total, resumeFrom > total, let partial {
                try? FileManager.default.removeItem(at: partial)
                resumeFrom = 0
            }
            if !reportedStart {
                report(resumeFrom, total, .started)
                reportedStart = true
            }
            if let total, let partial, resumeFrom == total, FileManager.default.fileExists(atPath: partial.path) {
                break attempts  // an earlier attempt got every byte; only verification is left
            }

            do {
                let headers = resumeFrom > 0 ? [("Range", "bytes=\(resumeFrom)-")] : []
                let response = try await transport.get(url, repo: repo, headers: headers, timeout: .hours(24))
                let offset: Int64
                switch response.status.code {
                case 200:
                    offset = 0  // a server that ignores Range sends everything again
                case 206:
                    guard let range = Self.contentRange(response.headers), range.start == resumeFrom else {
                        throw HubError.invalidResponse(repo: repo.id, url: response.url, reason: "partial content does not start at byte \(resumeFrom)")
                    }
                    offset = resumeFrom
                    if total == nil { total = range.total }
                case 416:
                    // Nothing past our offset: the partial file is either complete or bogus.
                    for try await _ in response.body {}
                    if let range = Self.contentRange(response.headers), let complete = range.total, complete == resumeFrom {
                        total = complete
                        break attempts
                    }
                    if let partial { try? FileManager.default.removeItem(at: partial) }
                    throw RangeNotSatisfiable(offset: resumeFrom)  // retried, from byte 0
                default:
                    throw HubTransport.error(for: response, repo: repo, file: file.name, tokenSent: transport.environment.token != nil)
                }

                // The hub's redirect names the content (X-Linked-Etag); without a redirect, ETag does.
                let announced = HubTransport.normalizeETag(response.firstHeader("X-Linked-Etag"))
                    ?? HubTransport.normalizeETag(response.chain.first?.first(name: "ETag"))
                if let announced, BlobDigest(etag: announced) != nil, let expected = etag, announced != expected {
                    throw HubError.invalidResponse(repo: repo.id, url: url, reason: "'\(file.name)' is announced as \(announced) but the listing said \(expected)")
                }
                if etag == nil {
                    guard let announced else {
                        throw HubError.invalidResponse(repo: repo.id, url: url, reason: "no ETag for '\(file.name)', so it cannot be verified")
                    }
                    etag = announced
                }
                if total == nil {
                    total = response.firstHeader("X-Linked-Size").flatMap { Int64($0) }
                        ?? (response.status.code == 200 ? response.headers.first(name: "Content-Length").flatMap { Int64($0) } : nil)
                }
                let target = cache.incompleteBlob(repo, etag: etag ?? "")
                _ = try await write(response.body, to: target, at: offset, total: total)
                break attempts
            } catch let error as HubError where !error.isTransient {
                throw error
            } catch {
                // Count only attempts that made no progress, so a flaky but moving link finishes.
                let now = etag.map { Self.fileSize(cache.incompleteBlob(repo, etag: $0)) } ?? 0
                failures = now > resumeFrom ? 1 : failures + 1
                if failures > maxRetries {
                    if let error = error as? HubError { throw error }
                    throw .network(endpoint: transport.environment.endpoint, repo: repo.id, reason: HubTransport.describe(error))
                }
                try? await Task.sleep(for: .milliseconds(100 * failures))
            }
        }

        guard let etag else {
            throw .invalidResponse(repo: repo.id, url: url, reason: "no ETag for '\(file.name)'")
        }
        let partial = cache.incompleteBlob(repo, etag: etag)
        let size = Self.fileSize(partial)
        if let total, size != total {
            if size > total { try? FileManager.default.removeItem(at: partial) }
            throw .sizeMismatch(repo: repo.id, file: file.name, expected: total, actual: size)
        }
        try verify(partial, etag: etag)
        let blob = cache.blob(repo, etag: etag)
        guard rename(partial.path, blob.path) == 0 else {
            throw .fileSystem(path: blob.path, operation: "move download into place at", reason: String(cString: strerror(errno)))
        }
        report(size, total, .finished)
        return etag
    }

    /// Appends the body to the partial file from `offset`; returns the bytes received.
    private func write(_ body: HTTPClientResponse.Body, to url: URL, at offset: Int64, total: Int64?) async throws -> Int64 {
        let handle: FileHandle
        do {
            try cache.createDirectory(url.deletingLastPathComponent())
            if !FileManager.default.fileExists(atPath: url.path) {
                guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                    throw CocoaError(.fileWriteUnknown)
                }
            }
            handle = try FileHandle(forWritingTo: url)
            try handle.truncate(atOffset: UInt64(offset))
            try handle.seek(toOffset: UInt64(offset))
        } catch let error as HubError {
            throw error
        } catch {
            throw HubError.fileSystem(path: url.path, operation: "open for writing", reason: error.localizedDescription)
        }
        defer { try? handle.close() }

        var done = offset
        for try await buffer in body {
            do {
                try buffer.withUnsafeReadableBytes { try handle.write(contentsOf: $0) }
            } catch {
                throw HubError.fileSystem(path: url.path, operation: "write", reason: error.localizedDescription)
            }
            done += Int64(buffer.readableBytes)
            report(done, total, .downloading)
        }
        return done - offset
    }

    private func verify(_ url: URL, etag: String) throws(HubError) {
        guard let digest = BlobDigest(etag: etag) else {
            try? FileManager.default.removeItem(at: url)
            throw .invalidResponse(repo: repo.id, url: self.url, reason: "the etag '\(etag)' of '\(file.name)' is neither a SHA-256 nor a git SHA-1, so the file cannot be verified")
        }
        let actual: String
        do {
            actual = try digest.hex(ofFileAt: url)
        } catch {
            throw .fileSystem(path: url.path, operation: "read", reason: error.localizedDescription)
        }
        guard actual == etag else {
            // A corrupt partial would poison every resume, so it goes.
            try? FileManager.default.removeItem(at: url)
            throw .checksumMismatch(repo: repo.id, file: file.name, algorithm: digest.name, expected: etag, actual: actual)
        }
    }

    private func report(_ done: Int64, _ total: Int64?, _ phase: DownloadProgress.Phase) {
        progress?(DownloadProgress(repo: repo.id, file: file.name, completedBytes: done, totalBytes: total, phase: phase))
    }

    static func fileSize(_ url: URL) -> Int64 {
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        return (attributes?[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// Parses `Content-Range: bytes <start>-<end>/<total>` or `bytes */<total>`.
    static func contentRange(_ headers: HTTPHeaders) -> (start: Int64?, total: Int64?)? {
        guard let value = headers.first(name: "Content-Range")?.trimmingCharacters(in: .whitespaces),
              value.lowercased().hasPrefix("bytes ") else { return nil }
        let spec = value.dropFirst(6)
        let parts = spec.split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let start = parts[0] == "*" ? nil : parts[0].split(separator: "-").first.flatMap { Int64($0) }
        return (start, Int64(parts[1]))
    }
}

/// A 416 for a partial file that does not match the server's copy; retrying starts afresh.
private struct RangeNotSatisfiable: Error, CustomStringConvertible {
    var offset: Int64
    var description: String { "the server cannot resume at byte \(offset) (HTTP 416)" }
}

extension HubError {
    /// Failures worth retrying with a resumed download: the network, and the hub's 5xx.
    var isTransient: Bool {
        switch self {
        case .network: true
        case .unexpectedStatus(_, _, let status): status >= 500
        default: false
        }
    }
}
