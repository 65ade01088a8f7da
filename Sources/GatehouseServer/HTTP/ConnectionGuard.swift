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
    case sendTimeout = "send_timeout"
    case requestLineTooLong = "request_line_too_long"
    case headersTooLarge = "headers_too_large"
    case malformedRequest = "malformed_request"
}

/// One connection's guard: the timers of `HTTPLimits`, the request-line limit, problem
/// answers to what the HTTP parser refuses, and a close after any response that says
/// `Connection: close` (or answers an HTTP/1.0 request without keep-alive).
///
/// It sits at two places in the pipeline, so it has two faces: `ByteSide` (first, before the
/// HTTP decoder: it sees that a request has begun, how long its request line is, and whether
/// the client reads what it is sent) and `PartSide` (after the decoder: heads, ends, the
/// parser's errors, and the responses going out). Both run on the connection's event loop, so
/// the shared state needs no lock. The faces hold the guard; the guard holds the byte face's
/// context until the pipeline is torn down (`handlerRemoved`), which breaks the cycle.
///
/// Requests are answered in order (HTTP/1.1 pipelining): a refusal of a later request waits
/// until every earlier answer is written, and input stops meanwhile.
final class ConnectionGuard {
    private let limits: HTTPLimits
    private let report: @Sendable (EdgeRefusal) -> Void

    /// Reading a head (true) or a body (false).
    private var betweenRequests = true
    /// A byte of the next head has come.
    private var bytesOfNextRequest = false
    /// The request line of the head being read: measured only when its start was seen.
    private var requestLineMeasured = false
    private var requestLineBytes = 0
    private var requestLineComplete = false
    private var http10 = false
    /// Heads read whose answer has not been written to its end, and in all.
    private var requestsOpen = 0
    private var headsRead = 0
    private var responseStarted = false
    private var closeAfterResponse = false
    private var pendingRefusal: Problem?
    /// No more input is looked at (refusing, or closing).
    private var inputStopped = false
    private var closing = false
    private var timer: (kind: EdgeRefusal, task: Scheduled<Void>)?
    private var stallTimer: Scheduled<Void>?
    private var byteContext: ChannelHandlerContext?

    init(limits: HTTPLimits, report: @escaping @Sendable (EdgeRefusal) -> Void) {
        self.limits = limits
        self.report = report
    }

    // MARK: - Events

    private func connectionStarted(_ context: ChannelHandlerContext) {
        byteContext = context
        reschedule()
    }

    private func received(_ buffer: ByteBuffer) {
        guard betweenRequests else { return }
        if !bytesOfNextRequest {
            bytesOfNextRequest = true
            requestLineMeasured = true
        }
        if requestLineMeasured && !requestLineComplete {
            let view = buffer.readableBytesView
            if let newline = view.firstIndex(of: UInt8(ascii: "\n")) {
                requestLineComplete = true
                requestLineBytes += newline - view.startIndex
                // "… HTTP/1.0\r\n": without keep-alive such a client expects a close.
                http10 = view[view.startIndex..<newline].suffix(9).elementsEqual("HTTP/1.0\r".utf8)
            } else {
                requestLineBytes += view.count
            }
            if requestLineBytes > limits.maxRequestLineBytes {
                refuse(.requestLineTooLong, Problem(.uriTooLong, "the request line is longer than \(limits.maxRequestLineBytes) bytes"))
            }
        }
        reschedule()
    }

    private func readHead(_ head: HTTPRequest) {
        betweenRequests = false
        requestsOpen += 1
        headsRead += 1
        if http10 && head.headerFields[.connection]?.lowercased() != "keep-alive" { closeAfterResponse = true }
        bytesOfNextRequest = false
        requestLineMeasured = false
        requestLineBytes = 0
        requestLineComplete = false
        http10 = false
        reschedule()
    }

    private func readEnd() {
        betweenRequests = true
        reschedule()
    }

    /// What to do once a response part has been passed on.
    private enum AfterWrite { case nothing, closeAfterAnswer, refuseNow(Problem) }

    private func wrote(_ part: HTTPResponsePart) -> AfterWrite {
        switch part {
        case .head(let head):
            guard head.status.kind != .informational else { return .nothing }
            responseStarted = true
            if head.headerFields[.connection]?.lowercased() == "close" || head.status == .contentTooLarge {
                closeAfterResponse = true
            }
            return .nothing
        case .body:
            return .nothing
        case .end:
            responseStarted = false
            requestsOpen -= 1
            if closeAfterResponse { return .closeAfterAnswer }
            if requestsOpen == 0, let problem = pendingRefusal { return .refuseNow(problem) }
            reschedule()
            return .nothing
        }
    }

    /// The parser (or the conversion to HTTP types) refused what came.
    private func failed(_ error: any Error) -> Bool {
        let problem: Problem
        let refusal: EdgeRefusal
        switch error {
        case let error as HTTPParserError:
            switch error {
            case .headerOverflow where requestLineMeasured && !requestLineComplete:
                (refusal, problem) = (.requestLineTooLong, Problem(.uriTooLong, "the request line is longer than this server reads"))
            case .headerOverflow:
                (refusal, problem) = (.headersTooLarge, Problem(.headersTooLarge,
                    "the request line or headers are larger than \(limits.maxHeaderBytes / 1024) KiB in all, \(limits.maxHeaderLineBytes / 1024) KiB a line, or more than \(limits.maxHeaderCount) lines"))
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

    private func timedOut(_ kind: EdgeRefusal) {
        timer = nil
        switch kind {
        case .headerTimeout where bytesOfNextRequest:
            refuse(kind, Problem(.requestTimeout, "the request head did not arrive within \(Self.seconds(limits.headerTimeout))"))
        case .bodyTimeout:
            refuse(kind, Problem(.requestTimeout, "the request body did not arrive within \(Self.seconds(limits.bodyTimeout))"))
        default:
            // Nothing was asked (a connection that never sent a byte, an idle keep-alive): an
            // answer would reach no one.
            report(kind)
            close()
        }
    }

    // MARK: - Timers

    /// The one timer the connection's state calls for; a timer of the same kind keeps running
    /// (the header timeout of a new connection runs from its start, not from its first byte).
    private func reschedule() {
        guard !closing else { return }
        let wanted: EdgeRefusal?
        let seconds: Double
        if !betweenRequests {
            (wanted, seconds) = (.bodyTimeout, limits.bodyTimeout)
        } else if requestsOpen > 0 {
            (wanted, seconds) = (nil, 0)  // the server's own time
        } else if bytesOfNextRequest || headsRead == 0 {
            (wanted, seconds) = (.headerTimeout, limits.headerTimeout)
        } else {
            (wanted, seconds) = (.idleTimeout, limits.idleTimeout)
        }
        if timer?.kind == wanted { return }
        timer?.task.cancel()
        timer = nil
        guard let wanted, let context = byteContext else { return }
        let task = context.eventLoop.assumeIsolated().scheduleTask(in: Self.amount(seconds)) { [self] in timedOut(wanted) }
        timer = (wanted, task)
    }

    /// The client stopped reading what it asked for: past `sendTimeout` of no progress, close.
    private func writability(_ writable: Bool) {
        stallTimer?.cancel()
        stallTimer = nil
        guard !writable, !closing, let context = byteContext else { return }
        stallTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.amount(limits.sendTimeout)) { [self] in
            report(.sendTimeout)
            close()
        }
    }

    private func cancelTimers() {
        timer?.task.cancel()
        timer = nil
        stallTimer?.cancel()
        stallTimer = nil
    }

    // MARK: - Acting

    /// Answers with `problem` and closes, in order: after every earlier answer still owed
    /// (pipelining), never in the middle of an answer (then only a close), never twice.
    private func refuse(_ refusal: EdgeRefusal, _ problem: Problem) {
        guard !inputStopped, !closing else { return }
        report(refusal)
        inputStopped = true
        // The request the problem is about: the head being read, or the body being read.
        let owedBefore = betweenRequests ? requestsOpen : requestsOpen - 1
        if responseStarted || owedBefore < 0 {
            close()  // mid-answer, or its request was already answered
        } else if owedBefore > 0 {
            pendingRefusal = problem
            cancelTimers()
        } else {
            answer(problem)
        }
    }

    private func answer(_ problem: Problem) {
        guard let context = byteContext else { return }
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: Self.rawResponse(problem))), promise: nil)
        closeAfterAnswer()
    }

    private func close() {
        guard !closing, let context = byteContext else { return }
        closing = true
        inputStopped = true
        cancelTimers()
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
        inputStopped = true
        cancelTimers()
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { [self] result in
            guard case .success = result, let context = byteContext, context.channel.isActive else {
                byteContext?.close(promise: nil)
                return
            }
            stallTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.amount(Self.lingerSeconds)) { [self] in
                byteContext?.close(promise: nil)
            }
        }
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

    private static func amount(_ seconds: Double) -> TimeAmount { .nanoseconds(Int64(seconds * 1e9)) }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    // MARK: - The two faces

    /// Before the decoder: raw bytes in, writability.
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
            owner.cancelTimers()
            owner.closing = true
            context.fireChannelInactive()
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            owner.cancelTimers()
            owner.byteContext = nil
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !owner.inputStopped else { return }
            owner.received(unwrapInboundIn(data))
            guard !owner.inputStopped else { return }
            context.fireChannelRead(data)
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            owner.writability(context.channel.isWritable)
            context.fireChannelWritabilityChanged()
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
            case .head(let head): owner.readHead(head)
            case .body: break
            case .end: owner.readEnd()
            }
            context.fireChannelRead(data)
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let part = unwrapOutboundIn(data)
            context.write(data, promise: promise)
            switch owner.wrote(part) {
            case .nothing: break
            case .closeAfterAnswer:
                context.flush()
                owner.closeAfterAnswer()
            case .refuseNow(let problem):
                context.flush()
                owner.answer(problem)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if !owner.failed(error) { context.fireErrorCaught(error) }
        }
    }
}
