import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Why the edge answered or closed a connection before (or instead of) the router.
enum EdgeRefusal: String, Sendable {
    case headerTimeout = "header_timeout"
    case bodyTimeout = "body_timeout"
    case idleTimeout = "idle_timeout"
    case requestLineTooLong = "request_line_too_long"
    case headersTooLarge = "headers_too_large"
    case malformedRequest = "malformed_request"
}

/// One connection's guard: the timers of `HTTPLimits`, the request-line limit, problem
/// answers to what the HTTP parser refuses, and a close after any response that says
/// `Connection: close`.
///
/// It sits at two places in the pipeline, so it has two faces: `bytes` (first, before the
/// HTTP decoder: it sees that a request has begun and how long its request line is) and
/// `parts` (after the decoder: it sees heads, ends and the parser's errors, and the responses
/// going out). Both run on the connection's event loop, so the shared state needs no lock.
/// The faces hold the guard; the guard holds the byte face's context until the pipeline is
/// torn down (`handlerRemoved`), which breaks the cycle.
final class ConnectionGuard {
    private let limits: HTTPLimits
    private let report: @Sendable (EdgeRefusal) -> Void

    /// Between requests: whether a byte of the next one has come, and how far its request line got.
    private var betweenRequests = true
    private var bytesOfNextRequest = false
    private var requestLineBytes = 0
    private var requestLineComplete = false
    /// Heads read whose response has not been written to its end.
    private var requestsOpen = 0
    private var responseStarted = false
    private var closeAfterResponse = false
    private var closing = false
    private var timer: Scheduled<Void>?
    private var byteContext: ChannelHandlerContext?

    init(limits: HTTPLimits, report: @escaping @Sendable (EdgeRefusal) -> Void) {
        self.limits = limits
        self.report = report
    }

    // MARK: - Events

    private func connectionStarted(_ context: ChannelHandlerContext) {
        byteContext = context
        schedule(limits.headerTimeout, .headerTimeout)
    }

    private func received(_ buffer: ByteBuffer) {
        guard betweenRequests, !closing else { return }
        if !bytesOfNextRequest {
            bytesOfNextRequest = true
            if requestsOpen == 0 { schedule(limits.headerTimeout, .headerTimeout) }
        }
        guard !requestLineComplete else { return }
        if let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            requestLineComplete = true
            requestLineBytes += newline - buffer.readerIndex
        } else {
            requestLineBytes += buffer.readableBytes
        }
        if requestLineBytes > limits.maxRequestLineBytes {
            refuse(.requestLineTooLong, Problem(.uriTooLong, "the request line is longer than \(limits.maxRequestLineBytes) bytes"))
        }
    }

    private func readHead() {
        betweenRequests = false
        requestsOpen += 1
        schedule(limits.bodyTimeout, .bodyTimeout)
    }

    private func readEnd() {
        betweenRequests = true
        bytesOfNextRequest = false
        requestLineBytes = 0
        requestLineComplete = false
        cancelTimer()
    }

    private func writing(_ part: HTTPResponsePart) -> Bool {
        switch part {
        case .head(let head):
            guard head.status.kind != .informational else { return false }
            responseStarted = true
            if head.headerFields[.connection]?.lowercased() == "close" || head.status == .contentTooLarge {
                closeAfterResponse = true
            }
            return false
        case .body:
            return false
        case .end:
            responseStarted = false
            requestsOpen -= 1
            if closeAfterResponse { return true }
            if requestsOpen == 0 && betweenRequests {
                schedule(bytesOfNextRequest ? limits.headerTimeout : limits.idleTimeout,
                         bytesOfNextRequest ? .headerTimeout : .idleTimeout)
            }
            return false
        }
    }

    /// The parser (or the conversion to HTTP types) refused what came. Nothing of ours has
    /// been answered for it yet unless a response is under way.
    private func failed(_ error: any Error) -> Bool {
        let problem: Problem
        let refusal: EdgeRefusal
        switch error {
        case let error as HTTPParserError:
            switch error {
            case .headerOverflow where !requestLineComplete:
                (refusal, problem) = (.requestLineTooLong, Problem(.uriTooLong, "the request line is longer than this server reads"))
            case .headerOverflow:
                (refusal, problem) = (.headersTooLarge, Problem(.headersTooLarge,
                    "the headers are larger than \(limits.maxHeaderBytes / 1024) KiB in all, \(limits.maxHeaderLineBytes / 1024) KiB a line, or more than \(limits.maxHeaderCount) lines"))
            case .invalidContentLength, .unexpectedContentLength:
                (refusal, problem) = (.malformedRequest, Problem(.invalidRequest, "Content-Length must be one non-negative decimal number"))
            case .invalidURL:
                (refusal, problem) = (.malformedRequest, Problem(.invalidRequest, "the request target is not a valid URI (RFC 3986)"))
            case .invalidHeaderToken, .invalidCharactersUsed, .invalidConstant, .lfExpected:
                (refusal, problem) = (.malformedRequest, Problem(.invalidRequest, "the request has characters HTTP/1.1 does not allow where they are (RFC 9112)"))
            case .invalidChunkSize:
                (refusal, problem) = (.malformedRequest, Problem(.invalidRequest, "the chunked body is malformed"))
            default:
                (refusal, problem) = (.malformedRequest, Problem(.invalidRequest, "the request is not valid HTTP/1.1"))
            }
        case is HTTP1TypeConversionError:
            (refusal, problem) = (.malformedRequest, Problem(.invalidRequest, "the request line or a header is not valid (RFC 9110)"))
        default:
            return false
        }
        refuse(refusal, problem)
        return true
    }

    private func timedOut(_ refusal: EdgeRefusal) {
        timer = nil
        switch refusal {
        case .headerTimeout where bytesOfNextRequest:
            refuse(refusal, Problem(.requestTimeout, "the request head did not arrive within \(Self.seconds(limits.headerTimeout))"))
        case .bodyTimeout:
            refuse(refusal, Problem(.requestTimeout, "the request body did not arrive within \(Self.seconds(limits.bodyTimeout))"))
        default:
            // Nothing was asked (a connection that never sent a byte, or an idle keep-alive):
            // an answer would reach no one.
            report(refusal)
            close()
        }
    }

    // MARK: - Acting

    /// Answers with `problem` when no response is under way, then closes; never twice.
    private func refuse(_ refusal: EdgeRefusal, _ problem: Problem) {
        guard !closing, let context = byteContext else { return }
        report(refusal)
        if responseStarted {
            close()
        } else {
            let bytes = Self.rawResponse(problem)
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            closeAfterAnswer()
        }
    }

    private func close() {
        guard !closing, let context = byteContext else { return }
        closing = true
        cancelTimer()
        context.close(promise: nil)
    }

    /// Seconds a connection is drained after its last answer before it is closed.
    static let lingerSeconds = 2.0

    /// A lingering close (nginx's `lingering_close`): shut our side after the answer, then read
    /// and drop what the client still sends for a moment. Closing at once with unread input
    /// makes the kernel send a reset, which can destroy the answer before the client reads it.
    private func closeAfterAnswer() {
        guard !closing, let context = byteContext else { return }
        closing = true
        cancelTimer()
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { [self] result in
            guard case .success = result, let context = byteContext, context.channel.isActive else {
                byteContext?.close(promise: nil)
                return
            }
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(Self.lingerSeconds * 1e9))) { [self] in
                byteContext?.close(promise: nil)
            }
        }
    }

    private func schedule(_ seconds: Double, _ refusal: EdgeRefusal) {
        cancelTimer()
        guard let context = byteContext else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { [self] in
            timedOut(refusal)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    /// A whole HTTP/1.1 response, written below the encoder: at this point nothing else is
    /// being written on the connection.
    static func rawResponse(_ problem: Problem) -> [UInt8] {
        let requestId = RequestOriginMiddleware.newRequestId()
        let body = problem.document(requestId: requestId).encoded()
        let reason = HTTPResponseStatus(statusCode: problem.status.code).reasonPhrase
        let head = "HTTP/1.1 \(problem.status.code) \(reason)\r\n"
            + "Content-Type: application/problem+json\r\nContent-Length: \(body.count)\r\n"
            + "Connection: close\r\nX-Request-Id: \(requestId)\r\nServer: gatehouse\r\n\r\n"
        return Array(head.utf8) + body
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    // MARK: - The two faces

    /// Before the decoder: raw bytes in.
    final class ByteSide: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        let owner: ConnectionGuard

        init(_ owner: ConnectionGuard) { self.owner = owner }

        func handlerAdded(context: ChannelHandlerContext) {
            if context.channel.isActive { owner.connectionStarted(context) }
        }

        func channelActive(context: ChannelHandlerContext) {
            if owner.byteContext == nil { owner.connectionStarted(context) }
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            owner.cancelTimer()
            owner.closing = true
            context.fireChannelInactive()
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            owner.cancelTimer()
            owner.byteContext = nil
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !owner.closing else { return }
            owner.received(unwrapInboundIn(data))
            guard !owner.closing else { return }
            context.fireChannelRead(data)
        }
    }

    /// After the decoder: request parts in, response parts out, parser errors.
    final class PartSide: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart
        typealias OutboundIn = HTTPResponsePart
        typealias OutboundOut = HTTPResponsePart
        let owner: ConnectionGuard

        init(_ owner: ConnectionGuard) { self.owner = owner }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head: owner.readHead()
            case .body: break
            case .end: owner.readEnd()
            }
            context.fireChannelRead(data)
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            if owner.writing(unwrapOutboundIn(data)) {
                context.writeAndFlush(data, promise: promise)
                owner.closeAfterAnswer()
            } else {
                context.write(data, promise: promise)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if !owner.failed(error) { context.fireErrorCaught(error) }
        }
    }
}
