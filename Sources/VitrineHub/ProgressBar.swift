import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Renders ``DownloadProgress`` for people, on standard error by default.
///
/// On a terminal it redraws a single line per file (at most ten times a second); otherwise, as
/// in CI logs, it prints a line when a file starts, at each quarter, and when it finishes.
///
/// ```swift
/// let bar = ProgressBar()
/// let directory = try await ModelLocation.resolve(spec, progress: bar.handler)
/// ```
public final class ProgressBar: Sendable {
    private struct State {
        var lastDraw: ContinuousClock.Instant?
        var lastQuarter: [String: Int] = [:]
        var lineOpen = false
    }

    private let isTerminal: Bool
    private let width: Int
    private let write: @Sendable (String) -> Void
    private let state = Mutex(State())

    /// - Parameters:
    ///   - isTerminal: redraw in place; defaults to whether standard error is a TTY.
    ///   - width: characters of the bar itself.
    ///   - write: where text goes; defaults to standard error.
    public init(
        isTerminal: Bool = isatty(STDERR_FILENO) != 0,
        width: Int = 30,
        write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) {
        self.isTerminal = isTerminal
        self.width = max(5, width)
        self.write = write
    }

    /// Pass this as the `progress` argument of ``HubClient`` or ``ModelLocation``.
    public var handler: DownloadProgressHandler {
        { [self] progress in self.update(progress) }
    }

    /// Shows one report.
    public func update(_ progress: DownloadProgress) {
        let text: String? = state.withLock { state in
            isTerminal ? terminalText(progress, &state) : logText(progress, &state)
        }
        if let text { write(text) }
    }

    private func terminalText(_ progress: DownloadProgress, _ state: inout State) -> String? {
        let now = ContinuousClock.now
        if progress.phase == .downloading, let last = state.lastDraw, now - last < .milliseconds(100) {
            return nil
        }
        state.lastDraw = now
        // \r returns to column 0, ESC[2K clears the old line so a shorter one leaves no residue.
        var line = "\r\u{1B}[2K" + Self.line(progress, barWidth: width)
        if progress.phase == .finished {
            line += "\n"
            state.lastDraw = nil
        }
        return line
    }

    private func logText(_ progress: DownloadProgress, _ state: inout State) -> String? {
        let key = progress.repo + "/" + progress.file
        switch progress.phase {
        case .started:
            state.lastQuarter[key] = 0
            let size = progress.totalBytes.map { " (\(Self.bytes($0)))" } ?? ""
            let resumed = progress.completedBytes > 0 ? ", resuming at \(Self.bytes(progress.completedBytes))" : ""
            return "downloading \(progress.repo) \(progress.file)\(size)\(resumed)\n"
        case .downloading:
            guard let total = progress.totalBytes, total > 0 else { return nil }
            let quarter = Int(min(4, progress.completedBytes * 4 / total))
            guard quarter > (state.lastQuarter[key] ?? 0), quarter < 4 else { return nil }
            state.lastQuarter[key] = quarter
            return "  \(progress.file): \(quarter * 25)% (\(Self.bytes(progress.completedBytes)))\n"
        case .finished:
            state.lastQuarter[key] = nil
            return "  \(progress.file): done (\(Self.bytes(progress.completedBytes)))\n"
        }
    }

    /// `name  [#########-----]  62%  12.3 MB / 19.8 MB`
    static func line(_ progress: DownloadProgress, barWidth: Int) -> String {
        var name = progress.file
        if name.count > 32 { name = "…" + name.suffix(31) }
        name = name.padding(toLength: 32, withPad: " ", startingAt: 0)
        guard let total = progress.totalBytes, total > 0 else {
            return "\(name)  \(bytes(progress.completedBytes))"
        }
        let fraction = min(1, max(0, Double(progress.completedBytes) / Double(total)))
        let filled = Int(fraction * Double(barWidth))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled)
        let percent = String(Int(fraction * 100)).leftPadded(to: 3)
        return "\(name)  [\(bar)] \(percent)%  \(bytes(progress.completedBytes)) / \(bytes(total))"
    }

    /// Decimal units, as the hub shows sizes.
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}

private extension String {
    func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: " ", count: length - count) + self
    }
}
