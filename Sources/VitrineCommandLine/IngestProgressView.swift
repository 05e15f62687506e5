import Foundation
import VitrineEngine

/// Ingest progress for people: a redrawn line on a terminal (count, rate, ETA when the total is
/// known), a log line every ten seconds otherwise.
public final class IngestProgressView: @unchecked Sendable {
    private let total: Int?
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let start = Date()
    private var last = Date.distantPast
    private let lock = NSLock()

    public init(total: Int?) { self.total = total }

    public func update(_ counts: IngestCounts) {
        lock.withLock {
            let now = Date()
            guard now.timeIntervalSince(last) >= (isTerminal ? 0.1 : 10) else { return }
            last = now
            let text = line(counts, now: now)
            FileHandle.standardError.write(Data((isTerminal ? "\r\u{1B}[2K" + text : text + "\n").utf8))
        }
    }

    public func finish(_ counts: IngestCounts) {
        lock.withLock {
            if isTerminal { FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line(counts, now: Date()) + "\n").utf8)) }
        }
    }

    private func line(_ c: IngestCounts, now: Date) -> String {
        let seconds = max(now.timeIntervalSince(start), 1e-3)
        let rate = Double(c.imagesEmbedded) / seconds
        var text = "\(c.read)"
        if let total {
            let fraction = min(1, Double(c.read) / Double(max(total, 1)))
            let filled = Int(fraction * 24)
            text = "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: 24 - filled) + "] \(c.read)/\(total)"
        }
        text += " products · \(String(format: "%.1f", rate)) images/s"
        if let total, c.read > 0, c.read < total {
            let eta = seconds / Double(c.read) * Double(total - c.read)
            text += " · ETA \(Self.duration(eta))"
        }
        text += " · \(c.ingested + c.updated) stored, \(c.unchanged) unchanged, \(c.failed) failed"
        return text
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
