import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Sits between HTTP decoding and Hummingbird, for what must be answered before a route runs:
///
/// - `Expect: 100-continue`: a client (curl, for any upload over 1 MB) waits for `100 Continue`
///   before sending its body. A body announced larger than any route accepts is refused at once
///   with 413 (the body is never sent); otherwise `100 Continue` goes out and the request goes on.
/// - A request the HTTP parser rejects (a 100 KB query string, a malformed header) gets the API's
///   error shape with its status (414, 431 or 400) instead of the framework's empty 400.
final class ChannelGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The largest body any route reads.
    let maxBodyBytes: Int

    init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data),
              let expect = head.headerFields[.expect], expect.lowercased() == "100-continue" else {
            context.fireChannelRead(data)
            return
        }
        if let length = head.headerFields[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            answer(context, status: .contentTooLarge, code: "payload_too_large",
                   "the body is \(length) bytes, more than the limit of \(maxBodyBytes) bytes")
            return
        }
        head.headerFields[.expect] = nil
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        switch error {
        case .invalidEOFState:
            // The client closed mid-request: nobody to answer.
            context.close(promise: nil)
        case .headerOverflow:
            answer(context, status: .init(code: 431, reasonPhrase: "Request Header Fields Too Large"), code: "headers_too_large",
                   "the request line and headers are longer than the server reads (80 KB); shorten the query string")
        case .invalidURL:
            answer(context, status: .badRequest, code: "invalid_request", "the request's URL is not valid")
        default:
            answer(context, status: .badRequest, code: "invalid_request", "the request is not valid HTTP/1.1 (\(error))")
        }
    }

    /// Writes an error in the API's shape and closes the connection (what follows on it cannot be
    /// read as a request).
    private func answer(_ context: ChannelHandlerContext, status: HTTPResponse.Status, code: String, _ message: String) {
        let body = APIError(status, code: code, message).body()
        var head = HTTPResponse(status: status)
        head.headerFields[.contentType] = "application/json; charset=utf-8"
        head.headerFields[.contentLength] = String(body.readableBytes)
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
