import Foundation
import VitrineEngine

/// A request's query string, decoded as HTML forms encode it (`+` is a space, then `%XX`), with
/// typed getters whose errors name the parameter and the bad value.
struct QueryParameters {
    private var values: [String: String] = [:]
    /// Names given more than once: ambiguous, so their getters refuse them.
    private var repeated: Set<String> = []

    init(_ uri: some CustomStringConvertible & Sendable) {
        // The raw query, before any decoding: `+` must be read before `%2B` is decoded.
        let text = uri.description
        guard let mark = text.firstIndex(of: "?") else { return }
        var query = text[text.index(after: mark)...]
        if let hash = query.firstIndex(of: "#") { query = query[..<hash] }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]), !name.isEmpty else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            // A value that is not valid percent-encoded UTF-8 is kept as an invalid marker so the
            // getter can say so.
            if values[name] == nil { values[name] = value ?? Self.invalid } else { repeated.insert(name) }
        }
    }

    private static let invalid = "\u{0}invalid"

    private static func decode(_ text: Substring) -> String? {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    func string(_ name: String) throws -> String? {
        guard let value = values[name] else { return nil }
        guard !repeated.contains(name) else {
            throw APIError.badRequest("query parameter \(name) is given more than once")
        }
        guard value != Self.invalid else {
            throw APIError.badRequest("query parameter \(name) is not valid percent-encoded UTF-8")
        }
        return value
    }

    func int(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        // Absent means the default; present but empty is not a number.
        guard let text = try string(name) else { return defaultValue }
        guard let value = Int(text) else {
            throw APIError.badRequest("query parameter \(name) must be an integer, not \"\(text.prefix(40))\"")
        }
        guard range.contains(value) else {
            throw APIError.badRequest("query parameter \(name) must be between \(range.lowerBound) and \(range.upperBound), not \(value)")
        }
        return value
    }

    func float(_ name: String, in range: ClosedRange<Float>) throws -> Float? {
        guard let text = try string(name) else { return nil }
        guard let value = Float(text), value.isFinite else {
            throw APIError.badRequest("query parameter \(name) must be a number, not \"\(text.prefix(40))\"")
        }
        guard range.contains(value) else {
            throw APIError.badRequest("query parameter \(name) must be between \(range.lowerBound) and \(range.upperBound), not \(text)")
        }
        return value
    }

    /// `k`, `offset` and `min_score`, checked against the engine's limits.
    func page() throws -> SearchPage {
        SearchPage(
            k: try int("k", default: 10, in: 1...SearchPage.maxK),
            offset: try int("offset", default: 0, in: 0...SearchPage.maxOffset),
            minScore: try float("min_score", in: -1...1))
    }

    /// `true`/`1` or `false`/`0`; absent means `false`.
    func bool(_ name: String) throws -> Bool {
        guard let text = try string(name) else { return false }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0", "": return false
        default: throw APIError.badRequest("query parameter \(name) must be true or false, not \"\(text.prefix(40))\"")
        }
    }

    /// `mode` (clip, keyword or hybrid; clip when absent), `explain` and `rerank`.
    func textOptions() throws -> SearchService.TextOptions {
        var options = SearchService.TextOptions()
        if let text = try string("mode"), !text.isEmpty {
            guard let mode = SearchMode(rawValue: text.lowercased()) else {
                let modes = SearchMode.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError.badRequest("query parameter mode must be one of \(modes), not \"\(text.prefix(40))\"")
            }
            options.mode = mode
        }
        options.explain = try bool("explain")
        options.rerank = try bool("rerank")
        if try string("understand") != nil { options.understand = try bool("understand") }
        return options
    }

    /// `category` and `market` (empty means no filter).
    func filter() throws -> SearchFilter {
        let category = try string("category").flatMap { $0.isEmpty ? nil : $0 }
        let market = try string("market").flatMap { $0.isEmpty ? nil : $0 }
        for (name, value) in [("category", category), ("market", market)] {
            // Unicode scalars, as the OpenAPI document's maxLength counts.
            if let value, value.unicodeScalars.count > 200 || value.contains("\0") {
                throw APIError.badRequest("query parameter \(name) is too long or contains a NUL character")
            }
        }
        // `exclude`: comma-separated words no result may mention (at most 8, of at most 40 characters).
        let exclude = (try string("exclude") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard exclude.count <= 8, exclude.allSatisfy({ $0.unicodeScalars.count <= 40 && !$0.contains("\0") }) else {
            throw APIError.badRequest("query parameter exclude takes at most 8 comma-separated words of at most 40 characters")
        }
        return SearchFilter(category: category, market: market, exclude: exclude)
    }
}
