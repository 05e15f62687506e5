import Foundation
import HTTPTypes
import Hummingbird
import VitrineCatalog
import VitrineCore
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
        return Response(status: status, headers: headers, body: .init(byteBuffer: body()))
    }

    /// The JSON body alone (also written at the channel, before a route runs).
    func body() -> ByteBuffer {
        ByteBuffer(bytes: (try? JSONCoding.encoder.encode(Body(error: .init(code: code, message: message)))) ?? Data())
    }

    // MARK: Common errors

    static func badRequest(_ message: String, code: String = "invalid_parameter") -> APIError {
        APIError(.badRequest, code: code, message)
    }

    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }

    static func tooLarge(_ message: String) -> APIError { APIError(.contentTooLarge, code: "payload_too_large", message) }

    static let timeout = APIError(.serviceUnavailable, code: "timeout", "the request took longer than the server's time limit; try again")

    // MARK: Mapping

    /// The API error for anything a handler threw. Vitrine's own errors answer with their kind's
    /// status (``ErrorKind/httpStatus``, the one mapping) and a stable code; framework errors with
    /// theirs; anything unknown is a 500 whose message does not leak internals (the log has the
    /// details). Transient answers (503) carry `Retry-After`.
    public init(_ error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let error as any VitrineError:
            self = Self.map(error)
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

    static func map(_ error: any VitrineError) -> APIError {
        let status = HTTPResponse.Status(code: error.kind.httpStatus)
        var headers: HTTPFields = [:]
        if status == .serviceUnavailable { headers[.retryAfter] = "1" }
        return APIError(status, code: code(for: error), message(for: error), headers: headers)
    }

    /// The API's word for an error: a case's own where clients tell it apart (documented in the
    /// OpenAPI document), else its kind's.
    static func code(for error: any VitrineError) -> String {
        switch error {
        case let error as EngineError:
            switch error {
            case .invalidQuery: return "invalid_query"
            case .invalidArgument: return "invalid_parameter"
            case .emptyDataDirectory, .emptyCatalog, .noModelRecord: return "not_ready"
            default: break
            }
        case is ModelChangedError:
            return "model_changed"
        case is IngestFailure:
            return "invalid_product"
        case let error as CatalogError:
            switch error {
            case .invalidArgument: return "invalid_product"
            case .readOnly: return "read_only"
            case .unavailable: return "dependency_unavailable"
            default: break
            }
        case VectorIndexError.unavailable:
            return "dependency_unavailable"
        case let error as ImageError:
            switch error {
            case .tooLarge: return "image_too_large"
            case .empty, .unknownFormat, .truncated, .corrupt, .unsupported: return "invalid_image"
            case .outOfMemory: return "busy"
            default: break
            }
        case let error as ReaderError:
            switch error {
            case .badImageReference, .forbiddenAddress, .invalidFormat: return "invalid_product"
            case .download: return "invalid_image"
            default: break
            }
        default:
            break
        }
        return code(for: error.kind)
    }

    /// The code of each kind, for cases without a word of their own.
    static func code(for kind: ErrorKind) -> String {
        switch kind {
        case .invalidArgument: "invalid_parameter"
        case .invalidInput: "invalid_input"
        case .unprocessable: "unprocessable"
        case .notFound: "not_found"
        case .tooLarge: "payload_too_large"
        case .conflict: "writer_busy"
        case .unavailable: "unavailable"
        case .insufficientStorage: "disk_full"
        case .dependency: "dependency_failed"
        case .misconfigured, .corrupted, .internalFailure: "internal"
        }
    }

    /// What the answer says: the error's own message, without a prefix the code already says.
    static func message(for error: any VitrineError) -> String {
        switch error {
        case let error as EngineError:
            switch error {
            case .invalidQuery(let reason): return reason
            case .unknownProduct(let id): return "no product with id \(id)"
            default: break
            }
        case let error as ModelChangedError:
            return error.description + "; the server is loading the new model: retry shortly"
        case let error as CatalogError:
            if case .invalidArgument(let message) = error { return message }
        default:
            break
        }
        return error.description
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
