import FolioStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// `GET /v1/events`: the sync endpoint (SPEC §5, §9).
///
/// Streams NDJSON: every event after `after` (optionally only some articles' events), then
/// `up-to-date`; with `live=true` it goes on with new events and a `heartbeat` whenever
/// nothing was sent for the heartbeat interval, until the client leaves, the server shuts
/// down, or the maximum stream duration passes (then a final `up-to-date`). Output is pulled
/// from the store one page at a time and written with back-pressure: a slow reader holds at
/// most one page and one write buffer in the server.
struct SyncRoutes: Sendable {
    let store: EventStore?
    let authenticator: Authenticator
    let configuration: ServerConfiguration
    let liveStreams: LiveStreams
    /// Shared newest events for caught-up live streams (nil: each stream reads the log).
    let tail: LiveTail?

    /// Bytes collected before a write while catching up.
    static let writeChunk = 64 * 1024
    /// Events read from the log per page.
    static let pageSize = 1000
    /// Longest wait for events committed before a request to become readable (see
    /// `settle` in the handler), after which `up-to-date` goes out without them.
    static let settleTimeout: Duration = .seconds(2)

    /// A request's parameters.
    struct Parameters {
        var after: StoreCursor
        var articles: [UUID]?
        var live: Bool
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/v1/events") { request, _ in
            try await stream(request)
        }
    }

    static func parameters(_ request: Request) throws -> Parameters {
        let query = request.uri.queryParameters
        var cursor = StoreCursor.start
        if let text = query["after"], !text.isEmpty {
            guard let parsed = StoreCursor(String(text)) else {
                throw APIError(status: .badRequest, code: "bad-cursor", message: "after= is not a cursor of this server", details: ["after": String(text)])
            }
            cursor = parsed
        }
        var articles: [UUID]?
        let given = query.getAll("article")
        if !given.isEmpty {
            articles = try given.map { text in
                guard let id = UUID(uuidString: String(text)) else {
                    throw APIError(status: .badRequest, code: "bad-request", message: "article= must be an article id (UUID)", details: ["article": String(text)])
                }
                return id
            }
        }
        var live = false
        if let text = query["live"] {
            switch text.lowercased() {
            case "true", "1", "yes": live = true
            case "false", "0", "no", "": live = false
            default:
                throw APIError(status: .badRequest, code: "bad-request", message: "live= must be true or false", details: ["live": String(text)])
            }
        }
        return Parameters(after: cursor, articles: articles, live: live)
    }

    func stream(_ request: Request) async throws -> Response {
        _ = try await authenticator.require(.reader, request)
        let parameters = try Self.parameters(request)
        guard let store, let epoch = try? store.currentEpoch() else {
            throw APIError(status: .serviceUnavailable, code: "store-starting", message: "the event store is starting", retryAfter: 1)
        }
        do {
            try EventStore.check(parameters.after, epoch: epoch)
        } catch StoreError.mustRefetch(let reason) {
            throw APIError(status: .conflict, code: "must-refetch", message: reason, details: ["after": parameters.after.description])
        }
        // One read before the answer starts, so an unreachable database is a 503 with
        // Retry-After (DatabaseErrorMiddleware) rather than a stream that breaks off.
        _ = try await store.readPage(after: parameters.after, limit: 1, articles: parameters.articles)
        let heartbeat = Duration.seconds(configuration.heartbeatSeconds)
        let maxDuration = Duration.seconds(configuration.maxStreamSeconds)
        let liveStreams = self.liveStreams
        let tail = self.tail
        let body = ResponseBody { writer in
            if parameters.live {
                liveStreams.opened()
                tail?.opened()
            }
            defer {
                if parameters.live {
                    liveStreams.closed()
                    tail?.closed()
                }
            }
            var output = ByteBuffer()
            output.reserveCapacity(Self.writeChunk + 4096)
            let articleSet = parameters.articles.map(Set.init)
            var count = 0
            var cursor = parameters.after
            let started = ContinuousClock.now
            var lastWrite = ContinuousClock.now
            func flush(_ writer: inout any ResponseBodyWriter) async throws {
                guard output.readableBytes > 0 else { return }
                try await writer.write(output)
                output.clear()
                lastWrite = .now
            }
            /// Reads the log itself from `cursor` until caught up (the whole catch-up, and a
            /// live stream that fell behind the shared tail).
            func catchUp(_ writer: inout any ResponseBodyWriter) async throws {
                var iterator = store.subscribe(after: cursor, articles: parameters.articles, batchSize: Self.pageSize).makeAsyncIterator()
                while true {
                    if iterator.bufferedCount == 0 || output.readableBytes >= Self.writeChunk { try await flush(&writer) }
                    guard let item = try await iterator.next(within: .seconds(1)) else {
                        if parameters.live && liveStreams.isShuttingDown { return }
                        continue
                    }
                    switch item {
                    case .event(let event):
                        SyncLine.event(event, into: &output)
                        count += 1
                        cursor = event.cursor
                    case .caughtUp(let head):
                        cursor = head
                        return
                    }
                }
            }
            /// `up-to-date` covers every event committed before the request came: reads (G4)
            /// stop below the oldest transaction open anywhere in the cluster, so an unrelated
            /// open transaction can hide a just-committed event (a client's own push, pulled
            /// right after) for a moment. Catch up again, briefly, until past that head.
            func settle(_ writer: inout any ResponseBodyWriter, committed: StoreCursor) async throws {
                let deadline = ContinuousClock.now + Self.settleTimeout
                while cursor < committed, ContinuousClock.now < deadline, !liveStreams.isShuttingDown {
                    try await Task.sleep(for: .milliseconds(5))
                    try await catchUp(&writer)
                }
            }
            do {
                let committed = try await store.committedHead()
                try await catchUp(&writer)
                try await settle(&writer, committed: committed)
                SyncLine.upToDate(cursor: cursor, count: count, into: &output)
                try await flush(&writer)
                while parameters.live {
                    let now = ContinuousClock.now
                    if now - started >= maxDuration || liveStreams.isShuttingDown {
                        SyncLine.upToDate(cursor: cursor, count: count, into: &output)
                        break
                    }
                    let sent = count
                    var wait: (watcher: LogWatcher, version: UInt64)
                    if let tail, case .events(let events, let head, let version) = tail.events(after: cursor, articles: articleSet) {
                        for event in events {
                            SyncLine.event(event, into: &output)
                            count += 1
                            cursor = event.cursor
                        }
                        cursor = max(cursor, head)
                        wait = (tail.signal, version)
                    } else {
                        // Behind the shared tail's window, or no tail: read the log itself.
                        wait = (store.appendSignal, store.appendSignal.version)
                        try await catchUp(&writer)
                    }
                    if count > sent || output.readableBytes > 0 {
                        try await flush(&writer)
                        continue
                    }
                    let quiet = ContinuousClock.now - lastWrite
                    if quiet >= heartbeat {
                        SyncLine.heartbeat(cursor: cursor, into: &output)
                        try await flush(&writer)
                        continue
                    }
                    // Wake at least once a second to notice shutdown and the duration limit.
                    await wait.watcher.wait(after: wait.version, timeout: min(.seconds(1), heartbeat - quiet))
                }
            } catch StoreError.mustRefetch(let reason) {
                SyncLine.mustRefetch(reason: reason, into: &output)
            }
            try await flush(&writer)
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson; charset=utf-8", .cacheControl: "no-store"], body: body)
    }
}

/// Live sync streams open now (for `/metrics`) and whether the server is shutting down (live
/// streams then end with `up-to-date`, and the client reconnects elsewhere or later).
public final class LiveStreams: Sendable {
    private let state = Mutex((open: 0, shuttingDown: false))

    public init() {}

    public var open: Int { state.withLock { $0.open } }
    public var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

    func opened() { state.withLock { $0.open += 1 } }
    func closed() { state.withLock { $0.open -= 1 } }
    /// Asks every live stream to end (within about a second).
    public func shutDown() { state.withLock { $0.shuttingDown = true } }
}
