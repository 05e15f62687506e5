import Foundation
import VitrineCore

/// Markup that is safe to send, built so that escaping is the default: a string literal is trusted
/// markup (it is in the source), and every value interpolated into it — catalog text, request
/// text, numbers — is escaped, unless the value is itself ``HTML``.
///
/// ```swift
/// let name = "<b>Dress</b>"
/// let item: HTML = "<li title=\"\(name)\">\(name)</li>"   // both escaped
/// let list: HTML = "<ul>\(item)</ul>"                       // markup inserted as is
/// ```
///
/// There is no way to turn a `String` variable into markup without escaping it, so a forgotten
/// call cannot open an XSS hole: the mistake would have to be an explicit ``init(trusted:)``.
struct HTML: ExpressibleByStringInterpolation, CustomStringConvertible, Sendable, Equatable {
    /// The markup as it goes on the wire.
    private(set) var description: String

    /// Nothing.
    static let empty = HTML(trusted: "")

    /// Markup from a string the caller vouches for (never catalog or request text).
    init(trusted markup: String) { description = markup }

    init(stringLiteral literal: String) { description = literal }

    init(stringInterpolation: Interpolation) { description = stringInterpolation.markup }

    struct Interpolation: StringInterpolationProtocol {
        fileprivate var markup = ""

        init(literalCapacity: Int, interpolationCount: Int) {
            markup.reserveCapacity(literalCapacity + 16 * interpolationCount)
        }

        mutating func appendLiteral(_ literal: String) { markup += literal }

        /// Text: escaped, safe inside elements and quoted attribute values alike.
        mutating func appendInterpolation(_ text: String) { markup += HTML.escape(text) }

        /// Numbers and other values: their text, escaped.
        mutating func appendInterpolation(_ value: some CustomStringConvertible) { markup += HTML.escape(value.description) }

        /// Markup: as is.
        mutating func appendInterpolation(_ html: HTML) { markup += html.description }

        /// A sequence of markup, one after another.
        mutating func appendInterpolation(_ parts: [HTML]) { for part in parts { markup += part.description } }
    }

    static func + (a: HTML, b: HTML) -> HTML { HTML(trusted: a.description + b.description) }

    static func += (a: inout HTML, b: HTML) { a.description += b.description }

    /// `parts` with `separator` between them.
    init(joining parts: [HTML], separator: HTML = .empty) {
        description = parts.map(\.description).joined(separator: separator.description)
    }

    // MARK: Text and URLs

    /// `&`, `<`, `>`, `"` and `'` as entities: safe inside elements and quoted attributes.
    fileprivate static func escape(_ text: String) -> String { HTMLEscape.text(text) }

    /// Characters left as they are in a query value (RFC 3986 unreserved); everything else,
    /// `&`, `=`, `+`, `#` and `/` included, is percent-encoded.
    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    static func percentEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// `?a=1&b=2` from the pairs whose value is not nil or empty (in the order given); "" when none.
    /// A URL is text: interpolated into an attribute, its `&` is escaped like any other.
    static func query(_ pairs: [(String, String?)]) -> String {
        let items = pairs.compactMap { name, value -> String? in
            guard let value, !value.isEmpty else { return nil }
            return "\(percentEncode(name))=\(percentEncode(value))"
        }
        return items.isEmpty ? "" : "?" + items.joined(separator: "&")
    }
}
