import Foundation
import Testing
@testable import VitrineCatalog

@Suite struct WriterLockTests {
    @Test func secondWriterIsRefusedWithTheHolderNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let data = DataDirectory(dir.url.appendingPathComponent("nested/data", isDirectory: true))
        let lock = try WriterLock.acquire(data, holder: "vitrine ingest")
        #expect(FileManager.default.fileExists(atPath: data.writerLockURL.path))
        #expect(lock.isHeld)

        let error = catalogError { _ = try WriterLock.acquire(data, holder: "vitrine serve") }
        guard case .locked(let path, let holder)? = error else {
            Issue.record("second acquire gave \(String(describing: error))")
            return
        }
        #expect(path == data.url.path)
        #expect(holder.hasPrefix("vitrine ingest, pid \(getpid()), since 20"))
        #expect(holder.hasSuffix("Z"))
        let message = error?.description ?? ""
        #expect(message.contains(data.url.path) && message.contains("locked by another writer: vitrine ingest, pid"))
        #expect(try WriterLock.currentHolder(data) == holder)

        lock.release()
        lock.release()  // idempotent
        #expect(!lock.isHeld)
        #expect(try WriterLock.currentHolder(data) == nil)
        let next = try WriterLock.acquire(data, holder: "vitrine serve")
        #expect(next.holder.command == "vitrine serve")
        #expect(try WriterLock.currentHolder(data)?.hasPrefix("vitrine serve, pid") == true)
    }

    @Test func deinitReleases() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let data = DataDirectory(dir.url)
        do {
            let lock = try WriterLock.acquire(data, holder: "scoped")
            _ = lock
        }
        let again = try WriterLock.acquire(data, holder: "after")
        #expect(again.isHeld)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/flock"), "needs flock(1)"))
    func lockHeldByAnotherProcessIsDetected() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let data = DataDirectory(dir.url)
        // flock(1) holds the lock while `cat` waits for its stdin; closing stdin ends both.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        child.arguments = ["--exclusive", "--close", data.writerLockURL.path, "sh", "-c", "echo locked; exec cat"]
        let input = Pipe()
        let output = Pipe()
        child.standardInput = input
        child.standardOutput = output
        try child.run()
        defer {
            try? input.fileHandleForWriting.close()
            child.waitUntilExit()
        }
        let line = String(decoding: output.fileHandleForReading.readData(ofLength: 7), as: UTF8.self)
        try #require(line == "locked\n" || line.hasPrefix("locked"), "flock(1) said \(line)")

        let error = catalogError { _ = try WriterLock.acquire(data, holder: "vitrine ingest") }
        guard case .locked(let path, let holder)? = error else {
            Issue.record("acquire while another process holds the lock gave \(String(describing: error))")
            return
        }
        #expect(path == data.url.path)
        #expect(holder.contains("unidentified process"))

        try input.fileHandleForWriting.close()
        child.waitUntilExit()
        #expect(child.terminationStatus == 0)
        let lock = try WriterLock.acquire(data, holder: "vitrine ingest")
        #expect(lock.isHeld)
    }
}
