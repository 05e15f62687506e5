import Foundation

/// A `multipart/form-data` body split into its parts (RFC 7578): enough for image uploads and
/// product writes, with every malformation reported as a 400 naming what is wrong.
struct MultipartForm {
    struct Part {
        var name: String
        var filename: String?
        var contentType: String?
        var body: Data
    }

    var parts: [Part]

    /// The boundary of a `multipart/form-data` content type, or nil for other types.
    static func boundary(contentType: String) -> String? {
        let pieces = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard pieces.first?.lowercased() == "multipart/form-data" else { return nil }
        for piece in pieces.dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }

    init(body: Data, boundary: String) throws {
        guard (1...200).contains(boundary.utf8.count) else { throw APIError.badRequest("the multipart boundary is empty or too long", code: "invalid_multipart") }
        let delimiter = Data(("--" + boundary).utf8)
        let crlf = Data("\r\n".utf8)
        parts = []
        guard var cursor = body.range(of: delimiter)?.upperBound else {
            throw APIError.badRequest("the multipart body does not contain its boundary", code: "invalid_multipart")
        }
        let next = Data("\r\n".utf8) + delimiter
        while true {
            // After a delimiter: "--" closes the body, CRLF starts a part.
            if body[cursor...].starts(with: Data("--".utf8)) { return }
            guard body[cursor...].starts(with: crlf) else {
                throw APIError.badRequest("malformed multipart body: no line break after a boundary", code: "invalid_multipart")
            }
            cursor += 2
            guard let headerEnd = body.range(of: Data("\r\n\r\n".utf8), in: cursor..<body.endIndex) else {
                throw APIError.badRequest("malformed multipart body: a part's headers do not end", code: "invalid_multipart")
            }
            let headerText = String(decoding: body[cursor..<headerEnd.lowerBound], as: UTF8.self)
            guard let end = body.range(of: next, in: headerEnd.upperBound..<body.endIndex) else {
                throw APIError.badRequest("malformed multipart body: the last part is not closed by the boundary", code: "invalid_multipart")
            }
            parts.append(try Self.part(headers: headerText, body: body[headerEnd.upperBound..<end.lowerBound]))
            guard parts.count <= 64 else { throw APIError.badRequest("the multipart body has more than 64 parts", code: "invalid_multipart") }
            cursor = end.upperBound
        }
    }

    private static func part(headers: String, body: Data) throws -> Part {
        var name: String?
        var filename: String?
        var contentType: String?
        for line in headers.components(separatedBy: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            switch pair[0].lowercased() {
            case "content-disposition":
                for parameter in pair[1].split(separator: ";").dropFirst() {
                    let kv = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard kv.count == 2 else { continue }
                    let value = kv[1].hasPrefix("\"") && kv[1].hasSuffix("\"") && kv[1].count >= 2 ? String(kv[1].dropFirst().dropLast()) : kv[1]
                    switch kv[0].lowercased() {
                    case "name": name = value
                    case "filename": filename = value
                    default: break
                    }
                }
            case "content-type":
                contentType = pair[1]
            default:
                break
            }
        }
        guard let name else { throw APIError.badRequest("a multipart part has no name in its Content-Disposition", code: "invalid_multipart") }
        return Part(name: name, filename: filename, contentType: contentType, body: Data(body))
    }
}
