import Foundation
import HTTPTypes
import Hummingbird
import VitrineCatalog
import VitrineEngine
import VitrineImage
import VitrineIndex
import VitrineSources

/// An error as the API reports it: an HTTP status and the body
/// `{"error": {"code": "...", "message": "..."}}`, whatever went wrong.
///
/// `code` is a stable, machine-readable word (`invalid_query`, `not_found`, ...); `message` names
/// the input and the reason, for people.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Extra response headers (`WWW-Authenticate` on a 401).
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    /// The JSON body.
    struct Body: Codable, Equatable {
        struct Detail: Codable, Equatable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    /// The response for this error (JSON, never cached).
    func response() -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        let body = (try? JSONCoding.encoder.encode(Body(error: .init(code: code, message: message)))) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    // MARK: Common errors

    static func badRequest(_ message: String, code: String = "invalid_parameter") -> APIError {
        APIError(.badRequest, code: code, message)
    }

    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }

    static func tooLarge(_ message: String) -> APIError { APIError(.contentTooLarge, code: "payload_too_large", message) }

    static let timeout = APIError(.serviceUnavailable, code: "timeout", "the request took longer than the server's time limit; try again")

    // MARK: Mapping

    /// The API error for anything a handler threw: engine, catalog, image and reader errors map to
    /// the status that says whose fault it is (bad input → 4xx); anything unknown is a 500 whose
    /// message does not leak internals (the log has the details).
    public init(_ error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let error as EngineError:
            self = Self.map(error)
        case let error as ModelChangedError:
            // A reindex swapped models under a running server: its encoders belong to the old one.
            self = APIError(.serviceUnavailable, code: "model_changed", error.description + "; the server is loading the new model: retry shortly")
        case let error as CatalogError:
            self = Self.map(error)
        case let error as ImageError:
            self = Self.map(error)
        case let error as ReaderError:
            self = Self.map(error)
        case let error as IngestFailure:
            self = APIError(.unprocessableContent, code: "invalid_product", "\(error.location): \(error.reason)")
        case let error as DecodingError:
            self = APIError(.badRequest, code: "invalid_json", Self.describe(error))
        case let error as HTTPError:
            self = APIError(error.status, code: Self.code(for: error.status), error.body ?? Self.defaultMessage(for: error.status))
        case let error as any HTTPResponseError:
            self = APIError(error.status, code: Self.code(for: error.status), Self.defaultMessage(for: error.status))
        case is CancellationError:
            self = .timeout
        default:
            self = APIError(.internalServerError, code: "internal", "internal error (see the server log)")
        }
    }

    static func map(_ error: EngineError) -> APIError {
        switch error {
        case .invalidQuery(let reason): APIError(.badRequest, code: "invalid_query", reason)
        case .unknownProduct(let id): APIError(.notFound, code: "not_found", "no product with id \(id)")
        case .emptyDataDirectory, .noModelRecord: APIError(.serviceUnavailable, code: "not_ready", error.description)
        case .model, .modelMismatch, .injectedFault: APIError(.internalServerError, code: "internal", error.description)
        }
    }

    static func map(_ error: CatalogError) -> APIError {
        switch error {
        case .locked: APIError(.conflict, code: "writer_busy", error.description)
        case .invalidArgument(let message): APIError(.badRequest, code: "invalid_product", message)
        case .blobNotFound: APIError(.notFound, code: "not_found", error.description)
        case .diskFull: APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), code: "disk_full", error.description)
        case .readOnly: APIError(.serviceUnavailable, code: "read_only", error.description)
        case .notFound, .schemaTooNew, .corrupted, .io: APIError(.internalServerError, code: "internal", error.description)
        }
    }

    static func map(_ error: ImageError) -> APIError {
        switch error {
        case .tooLarge: APIError(.contentTooLarge, code: "image_too_large", error.description)
        case .empty, .unknownFormat, .truncated, .corrupt, .unsupported:
            APIError(.unprocessableContent, code: "invalid_image", error.description)
        case .outOfMemory: APIError(.serviceUnavailable, code: "busy", error.description)
        case .unreadable, .invalidConfiguration: APIError(.internalServerError, code: "internal", error.description)
        }
    }

    static func map(_ error: ReaderError) -> APIError {
        switch error {
        case .tooLarge: APIError(.contentTooLarge, code: "payload_too_large", error.description)
        case .badImageReference, .forbiddenAddress, .invalidFormat: APIError(.badRequest, code: "invalid_product", error.description)
        case .download: APIError(.unprocessableContent, code: "invalid_image", error.description)
        case .notFound: APIError(.notFound, code: "not_found", error.description)
        case .unreadable: APIError(.internalServerError, code: "internal", error.description)
        }
    }

    /// `snake_case` of the status's reason (404 → `not_found`), for errors raised by the framework.
    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 408: "timeout"
        case 413: "payload_too_large"
        case 415: "unsupported_media_type"
        case 400..<500: "bad_request"
        default: "internal"
        }
    }

    static func defaultMessage(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 404: "no such route"
        case 413: "the request body is larger than the server accepts"
        default: status.reasonPhrase
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "the document" : "\"\(path)\""
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "invalid JSON: \(path(context)) lacks the required field \"\(key.stringValue)\""
        case .typeMismatch(let type, let context):
            return "invalid JSON: \(path(context)) should be \(type): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "invalid JSON: \(path(context)) is null, expected \(type)"
        case .dataCorrupted(let context):
            return "invalid JSON at \(path(context)): \(context.debugDescription)"
        @unknown default:
            return "invalid JSON"
        }
    }
}
