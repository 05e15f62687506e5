import Foundation

/// Building HTML text safely: every piece of catalog or request text goes through ``escape(_:)``
/// (element content and quoted attribute values alike), and URLs are built with ``query(_:)``.
enum HTML {
    /// `&`, `<`, `>`, `"` and `'` as entities: safe inside elements and quoted attributes.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// Characters left as they are in a query value (RFC 3986 unreserved); everything else,
    /// `&`, `=`, `+`, `#` and `/` included, is percent-encoded.
    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    static func percentEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// `?a=1&b=2` from the pairs whose value is not nil or empty (in the order given); "" when none.
    /// The result still needs ``escape(_:)`` inside an attribute (for the `&`).
    static func query(_ pairs: [(String, String?)]) -> String {
        let items = pairs.compactMap { name, value -> String? in
            guard let value, !value.isEmpty else { return nil }
            return "\(percentEncode(name))=\(percentEncode(value))"
        }
        return items.isEmpty ? "" : "?" + items.joined(separator: "&")
    }
}
