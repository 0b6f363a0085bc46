import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Answers `POST /v1/events` straight from the connection's channel pipeline.
///
/// Hummingbird hands every request to an async task through `NIOAsyncChannel`, routes it and
/// wraps it in a request context; on loopback that costs about 50 µs of CPU per request on
/// this project's two-core machine, a third of an append's server time (a bare SwiftNIO
/// handler answers in about 23 µs, docs/performance.md). Appends are the one call clients make
/// at a high rate, so this handler, placed right after Hummingbird's HTTP/1.1 decoding, takes
/// them itself: it collects the body, runs the same ``AppendRoutes/answer(fields:body:)`` as
/// the route in a task, and writes the answer with the headers Hummingbird would add (`Date`,
/// `Server`). Everything else passes through to Hummingbird untouched.
///
/// HTTP/1.1 keeps answers in request order, so the handler takes a request only when no
/// request it passed on is still unanswered (it counts the answers Hummingbird writes), and
/// while its own answer is pending it holds back later requests (and stops reading) until the
/// answer is written. Requests that want the connection closed (`Connection: close`) or
/// `Expect: 100-continue` go to Hummingbird, which handles both. A graceful shutdown
/// (`ChannelShouldQuiesceEvent`) or the client's half-close is held until the pending answer is
/// written, so an append in flight is answered before Hummingbird closes the connection.
final class AppendChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Mode {
        /// Between requests.
        case idle
        /// Passing a request on to Hummingbird, until its end.
        case passing
        /// Collecting the body of an append this handler answers.
        case collecting
        /// The append's answer is being worked out.
        case answering
    }

    private let routes: AppendRoutes
    private let serverName: String
    private var mode = Mode.idle
    /// The header fields of the append being collected.
    private var fields = HTTPFields()
    /// Its body so far; nil once it is larger than the limit (the answer is then 413).
    private var body: ByteBuffer?
    /// Requests passed on to Hummingbird and not yet answered.
    private var unansweredPassedOn = 0
    /// Parts that arrived while an answer was pending, in order.
    private var heldParts: [HTTPRequestPart] = []
    /// A `read()` asked for while an answer was pending.
    private var heldRead = false
    /// Events (a shutdown notice, the client's half-close) that arrived while an append was in
    /// progress, in order: passed on once it is answered, so Hummingbird does not close the
    /// connection before the answer is written.
    private var heldEvents: [Any] = []

    init(routes: AppendRoutes, serverName: String) {
        self.routes = routes
        self.serverName = serverName
    }

    /// Whether this handler answers the request (else Hummingbird does).
    static func takes(_ request: HTTPRequest) -> Bool {
        request.method == .post && request.path == "/v1/events"
            && request.headerFields[.connection] == nil && request.headerFields[.expect] == nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        handle(unwrapInboundIn(data), context: context)
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (mode, part) {
        case (.answering, _):
            heldParts.append(part)
        case (.idle, .head(let request)):
            if unansweredPassedOn == 0 && Self.takes(request) {
                mode = .collecting
                fields = request.headerFields
                body = ByteBuffer()
            } else {
                unansweredPassedOn += 1
                mode = .passing
                context.fireChannelRead(wrapInboundOut(part))
            }
        case (.collecting, .body(var chunk)):
            // Past the limit the bytes are dropped; the answer is 413 once the request ends.
            if let size = body?.readableBytes, size + chunk.readableBytes <= routes.configuration.maxBodyBytes {
                body!.writeBuffer(&chunk)
            } else {
                body = nil
            }
        case (.collecting, .end):
            mode = .answering
            answer(fields: fields, body: body.map(AppendRoutes.Body.bytes) ?? .tooLarge, context: context)
            (fields, body) = (HTTPFields(), nil)
        case (.passing, .end):
            mode = .idle
            context.fireChannelRead(wrapInboundOut(part))
        case (.passing, _), (.idle, _), (.collecting, .head):
            // Hummingbird reports parts out of order as errors; pass them on for that.
            mode = .passing
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    private func answer(fields: HTTPFields, body: AppendRoutes.Body, context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        Task { [routes] in
            let answer = await routes.answer(fields: fields) { body }
            loop.execute {
                bound.value.handler.write(answer, context: bound.value.context)
            }
        }
    }

    /// Writes the answer, then lets held parts, reads and a shutdown notice through.
    private func write(_ answer: HTTPAnswer, context: ChannelHandlerContext) {
        var head = HTTPResponse(status: answer.status, headerFields: answer.headers)
        head.headerFields[.contentLength] = String(answer.body.readableBytes)
        head.headerFields[.date] = HTTPDate.now()
        head.headerFields[.server] = serverName
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(answer.body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        mode = .idle
        let parts = heldParts
        heldParts = []
        for part in parts { handle(part, context: context) }
        // What was passed on reaches Hummingbird's request loop at the end of a read batch.
        if !parts.isEmpty { context.fireChannelReadComplete() }
        switch mode {
        case .answering:
            return  // a held request is being answered: the rest waits for that answer
        case .collecting:
            break  // the events wait for this request's answer too
        case .idle, .passing:
            let events = heldEvents
            heldEvents = []
            for event in events { context.fireUserInboundEventTriggered(event) }
        }
        if heldRead {
            heldRead = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if case .answering = mode {
            heldRead = true
        } else {
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Only Hummingbird's answers come through here (this handler writes past itself).
        if case .end = unwrapOutboundIn(data) { unansweredPassedOn = max(0, unansweredPassedOn - 1) }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch mode {
        case .collecting where (event as? ChannelEvent) == .inputClosed:
            // The client stopped sending before the body ended: no request to answer.
            (mode, fields, body) = (.idle, HTTPFields(), nil)
            context.fireUserInboundEventTriggered(event)
        case .collecting, .answering:
            heldEvents.append(event)
        case .idle, .passing:
            context.fireUserInboundEventTriggered(event)
        }
    }
}
