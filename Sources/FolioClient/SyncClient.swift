import FolioCore
import Foundation
import NIOCore
import NIOHTTP1

/// Pushes the outbox and pulls the log (SPEC §5, §9): idempotent pushes (event ids are
/// chosen when a command runs, so a retry is answered `duplicate`), pulls resumed from the
/// stored cursor, pending events made on top of other pending ones rebased once those are
/// settled, `must-refetch` answered by a full refetch that keeps the outbox.
public final class SyncClient: Sendable {
    public let replica: Replica
    /// Called with the number of events pulled so far (for a progress display).
    let progress: (@Sendable (Int) -> Void)?
    /// Events per `POST /v1/events`.
    let batchSize: Int

    public init(replica: Replica, batchSize: Int = 100, progress: (@Sendable (Int) -> Void)? = nil) {
        self.replica = replica
        self.batchSize = batchSize
        self.progress = progress
    }

    struct Connection {
        var server: String
        var token: String
        var device: String
        var headers: [String: String] { ["Authorization": "Bearer \(token)"] }
    }

    private func connection() throws(ClientError) -> Connection {
        let settings = try replica.settings()
        guard let server = settings.server, let token = settings.token else { throw .notLoggedIn }
        return Connection(server: server, token: token, device: settings.device)
    }

    /// One sync: push everything, pull until `up-to-date`, repeat while pending events wait
    /// on a base that just settled.
    public func sync() async throws(ClientError) -> SyncReport {
        let connection = try connection()
        let before = Set(try replica.conflicts().map(\.eventId))
        var report = SyncReport()
        for _ in 0..<1_000 {
            try await push(connection, &report, allowPull: true)
            report.pulled += try await pull(connection, live: false)
            try resolveSettled()
            if try replica.outbox(states: [.pending]).isEmpty { break }
        }
        try replica.setSetting("lastSync", RFC3339.string(from: Date()))
        report.conflicts = try replica.conflicts().filter { !before.contains($0.eventId) }
        return report
    }

    /// `sync --follow`: sync, then stay on the live stream, pushing new outbox events as
    /// they appear; reconnects with jittered exponential backoff that honours `Retry-After`.
    /// Runs until cancelled; `onReport` is called after each round.
    public func follow(onEvent: @escaping @Sendable (String) -> Void) async throws(ClientError) {
        var attempt = 0
        while !Task.isCancelled {
            do {
                let connection = try connection()
                let report = try await sync()
                onEvent("synced: pushed \(report.pushed), pulled \(report.pulled)")
                attempt = 0
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let pulled = try await self.pull(connection, live: true)
                        onEvent("stream ended after \(pulled) events")
                    }
                    group.addTask {
                        while !Task.isCancelled {
                            try await Task.sleep(for: .seconds(1))
                            try self.resolveSettled()
                            if try !self.replica.outbox(states: [.pending]).isEmpty {
                                var report = SyncReport()
                                try await self.push(connection, &report, allowPull: false)
                                if report.pushed > 0 { onEvent("pushed \(report.pushed)") }
                            }
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            } catch let error as ClientError {
                guard case .unreachable = error else { throw error }
                attempt += 1
                let delay = Self.backoff(attempt: attempt, retryAfter: Self.retryAfter(error))
                onEvent("\(error); retrying in \(String(format: "%.1f", delay)) s")
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            } catch is CancellationError {
                return
            } catch {
                attempt += 1
                let delay = Self.backoff(attempt: attempt, retryAfter: nil)
                onEvent("\(error); retrying in \(String(format: "%.1f", delay)) s")
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            }
        }
    }

    /// Full jitter over an exponential ceiling (0.5 s … 30 s), at least `Retry-After`.
    static func backoff(attempt: Int, retryAfter: Double?) -> Double {
        let ceiling = min(30, 0.5 * pow(2, Double(min(attempt, 10))))
        let jittered = Double.random(in: (ceiling / 2)...ceiling)
        return max(jittered, retryAfter ?? 0)
    }

    private static func retryAfter(_ error: ClientError) -> Double? {
        guard case .unreachable(_, let reason) = error, let range = reason.range(of: "retry after ") else { return nil }
        return Double(reason[range.upperBound...].prefix { $0.isNumber || $0 == "." })
    }

    // MARK: Push

    /// Rebases pending events whose base has settled in the pulled log; marks as rejected
    /// those whose base was refused or that no longer apply.
    func resolveSettled() throws(ClientError) {
        let outbox = try replica.outbox()
        let rejectedIds = Set(outbox.filter { $0.state == .rejected }.map(\.eventId))
        let waiting = outbox.filter { $0.state == .pending && $0.baseEventId != nil }
        guard !waiting.isEmpty else { return }
        var histories: [String: (ArticleHistory, [StoredEvent])] = [:]
        for entry in waiting {
            guard let base = entry.baseEventId, let baseText = entry.baseText else { continue }
            if histories[entry.articleId] == nil {
                let events = try replica.events(ofArticle: entry.articleId)
                    .filter { $0.stream == "article-" + entry.articleId }.sorted { $0.revision < $1.revision }
                if let history = try Self.history(events) { histories[entry.articleId] = (history, events) }
            }
            guard let (history, events) = histories[entry.articleId] else { continue }
            // A base the server refused never reaches the log: rebase onto the latest revision.
            guard let settled = rejectedIds.contains(base) ? history.revision : Rebase.settledRevision(of: base, in: events) else { continue }
            do {
                let rebased = try Rebase.rebase(try entry.decoded(), baseText: baseText, onto: settled, of: history)
                try replica.resolveOutbox(entry.eventId, data: try rebased.jsonText())
            } catch let error as ClientError {
                throw error
            } catch {
                try replica.markOutbox(entry.eventId, state: .rejected, error: "cannot rebase: \(error)")
            }
        }
    }

    static func history(_ events: [StoredEvent]) throws(ClientError) -> ArticleHistory? {
        var history: ArticleHistory?
        do {
            for stored in events {
                let event = try stored.decoded()
                if history == nil {
                    if case .articleCreated(let created) = event { history = ArticleHistory(created: created, recordedAt: stored.recordedDate) }
                } else {
                    try history!.append(event, revision: stored.revision, recordedAt: stored.recordedDate)
                }
            }
        } catch {
            throw .storage("the pulled log does not fold: \(error)")
        }
        return history
    }

    /// Pushes pending events in order, in batches that stop before an event still waiting
    /// for its base; with `allowPull`, pulls to settle such bases and goes on.
    func push(_ connection: Connection, _ report: inout SyncReport, allowPull: Bool) async throws(ClientError) {
        var stalled = 0
        while true {
            try resolveSettled()
            let pending = try replica.outbox(states: [.pending])
            guard !pending.isEmpty else { return }
            let batch = Array(pending.prefix { $0.baseEventId == nil }.prefix(batchSize))
            if batch.isEmpty {
                guard allowPull, stalled < 3 else { return }
                stalled += 1
                report.pulled += try await pull(connection, live: false)
                continue
            }
            stalled = 0
            try await send(batch, connection, &report)
        }
    }

    private func body(_ batch: [OutboxEntry], _ connection: Connection) -> Data {
        var text = #"{"events":["#
        for (index, entry) in batch.enumerated() {
            if index > 0 { text += "," }
            var meta: [String: String] = ["client": connection.device, "correlationId": entry.correlationId]
            meta["causationId"] = entry.baseEventId
            let metaText = (try? JSONSerialization.data(withJSONObject: meta, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            text += #"{"id":"\#(entry.eventId)","type":"\#(entry.type)","data":\#(entry.data),"meta":\#(metaText)}"#
        }
        text += "]}"
        return Data(text.utf8)
    }

    private func send(_ batch: [OutboxEntry], _ connection: Connection, _ report: inout SyncReport) async throws(ClientError) {
        var attempt = 0
        while true {
            let head: HTTPTransport.Head
            let data: Data
            do {
                var headers = connection.headers
                headers["Content-Type"] = "application/json"
                (head, data) = try await HTTPTransport.send(method: .POST, url: connection.server + "/v1/events", headers: headers, body: body(batch, connection))
            } catch let failure as HTTPTransport.ConnectionFailure where failure.connected && batch.count > 1 {
                // The server closed the connection mid-request (e.g. a body over its limit):
                // send the halves; ids make a repeat harmless.
                let half = batch.count / 2
                try await send(Array(batch[..<half]), connection, &report)
                try await send(Array(batch[half...]), connection, &report)
                return
            } catch {
                throw .unreachable(server: connection.server, reason: "\(error)")
            }
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            switch head.status {
            case 200, 201:
                guard let results = object?["results"] as? [[String: Any]] else { throw .protocolError("POST /v1/events: no results") }
                for result in results {
                    guard let id = (result["id"] as? String)?.lowercased(), let entry = batch.first(where: { $0.eventId == id }) else { continue }
                    let revision = (result["revision"] as? NSNumber)?.intValue
                    let status = result["status"] as? String ?? ""
                    report.pushed += 1
                    if status == "conflicted" {
                        try replica.markOutbox(id, state: .conflicted, serverRevision: revision)
                        var base = 0
                        if case .articleEdited(let edited)? = try? entry.decoded() { base = edited.baseRevision }
                        try replica.recordConflict(eventId: id, articleId: entry.articleId, baseRevision: base, revision: revision)
                    } else {
                        try replica.markOutbox(id, state: .pushed, serverRevision: revision)
                    }
                }
                return
            case 401:
                throw .notAllowed("the server refused the token (401): \(Self.message(object))")
            case 413 where batch.count > 1:
                let half = batch.count / 2
                try await send(Array(batch[..<half]), connection, &report)
                try await send(Array(batch[half...]), connection, &report)
                return
            case 400, 403, 404, 409, 413, 422:
                if batch.count > 1 {
                    // Find the refused events one by one; the others go through.
                    for entry in batch { try await send([entry], connection, &report) }
                    return
                }
                try replica.markOutbox(batch[0].eventId, state: .rejected, error: "\(head.status) \(Self.message(object))")
                report.rejected += 1
                return
            default:
                attempt += 1
                if attempt >= 3 || head.status < 500 && head.status != 429 {
                    let retry = head.retryAfter.map { "; retry after \($0)" } ?? ""
                    throw .unreachable(server: connection.server, reason: "HTTP \(head.status) \(Self.message(object))\(retry)")
                }
                try? await Task.sleep(for: .milliseconds(Int(min(10, head.retryAfter ?? 0.5) * 1000)))
            }
        }
    }

    private static func message(_ object: [String: Any]?) -> String {
        guard let error = object?["error"] as? [String: Any] else { return "" }
        var text = "\(error["code"] as? String ?? ""): \(error["message"] as? String ?? "")"
        if let details = error["details"], let data = try? JSONSerialization.data(withJSONObject: details, options: [.sortedKeys]) {
            text += " " + String(decoding: data, as: UTF8.self)
        }
        return text
    }

    // MARK: Pull

    /// Pulls from the stored cursor until `up-to-date` (or, live, until the stream ends);
    /// returns the number of new events. `must-refetch` wipes the pulled log and starts over.
    func pull(_ connection: Connection, live: Bool) async throws(ClientError) -> Int {
        // A fresh replica's first pull is a bulk load (see `Replica.beginBulkPull`); after a
        // refetch the log is empty again and the next round starts one.
        var bulk = false
        do {
            let total = try await pullRounds(connection, live: live, bulk: &bulk)
            if bulk { try replica.endBulkPull() }
            return total
        } catch {
            if bulk { try? replica.endBulkPull() }
            throw error
        }
    }

    private func pullRounds(_ connection: Connection, live: Bool, bulk: inout Bool) async throws(ClientError) -> Int {
        var total = 0
        var failures = 0
        for _ in 0..<8 {
            if !bulk { bulk = try replica.beginBulkPull() }
            let outcome: (count: Int, mustRefetch: Bool)
            do {
                outcome = try await pullOnce(connection, live: live, already: total)
            } catch {
                // A stream cut after the connection was made resumes from the stored cursor.
                guard case .unreachable(_, let reason) = error, reason.hasPrefix("resumable:"), failures < 2 else { throw error }
                failures += 1
                try? await Task.sleep(for: .milliseconds(200 * failures))
                continue
            }
            total = outcome.count
            if !outcome.mustRefetch { return total }
            try replica.wipePulledLog()
        }
        throw .protocolError("the server kept answering must-refetch")
    }

    private struct PullState {
        var buffer: [StoredEvent] = []
        var count = 0
        var mustRefetch = false
        var done = false
        /// An `up-to-date` line arrived (live events are stored as they come after it).
        var caughtUp = false
        var status = 0
        var errorBody = Data()
        var retryAfter: Double?
        /// The page being written.
        var writing: Task<Result<Int, ClientError>, Never>?
    }

    private func pullOnce(_ connection: Connection, live: Bool, already: Int) async throws(ClientError) -> (count: Int, mustRefetch: Bool) {
        let cursor = try replica.settings().cursor
        var query: [String] = []
        if let cursor { query.append("after=" + (cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? cursor)) }
        if live { query.append("live=true") }
        let url = connection.server + "/v1/events" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        var state = PullState()
        state.count = already
        var splitter = LineSplitter()
        let replica = self.replica
        let progress = self.progress
        let durable = false
        /// Waits for the page being written, if any.
        func settle(_ state: inout PullState) async throws(ClientError) {
            guard let writing = state.writing else { return }
            state.writing = nil
            state.count += try await writing.value.get()
            progress?(state.count)
        }
        /// Hands the buffered events (and the cursor after them) to the replica as one page.
        /// Pages are written in order, one at a time: the previous page's write is awaited
        /// first, then this one runs on the replica's writer while the next page is read and
        /// parsed (`wait`: it is awaited too).
        func flush(_ cursor: String?, _ state: inout PullState, wait: Bool) async throws(ClientError) {
            if !state.buffer.isEmpty || cursor != nil {
                try await settle(&state)
                let page = state.buffer
                let pageCursor = cursor ?? page.last?.cursor
                state.buffer = []
                state.buffer.reserveCapacity(Self.pageSize)
                state.writing = Task { () -> Result<Int, ClientError> in
                    do throws(ClientError) {
                        return .success(try await replica.applyPulledAsync(page, cursor: pageCursor, durable: durable))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            if wait { try await settle(&state) }
        }
        do {
            try await HTTPTransport.exchange(
                method: .GET, url: url, headers: connection.headers, body: nil, idleTimeout: .seconds(live ? 60 : 120),
                onHead: { head in
                    state.status = head.status
                    state.retryAfter = head.retryAfter
                },
                onBody: { buffer in
                    guard state.status == 200 else {
                        state.errorBody.append(contentsOf: buffer.readableBytesView)
                        return true
                    }
                    for line in splitter.feed(buffer) {
                        switch try SyncLineReader.read(line) ?? Self.slowItem(line) {
                        case .event(let event):
                            state.buffer.append(event)
                            if state.buffer.count >= Self.pageSize { try await flush(nil, &state, wait: false) }
                        case .upToDate(let cursor):
                            try await flush(cursor, &state, wait: true)
                            state.caughtUp = true
                            if !live {
                                state.done = true
                                return false
                            }
                        case .heartbeat(let cursor):
                            try await flush(cursor, &state, wait: true)
                        case .mustRefetch:
                            try await settle(&state)
                            state.buffer.removeAll()
                            state.mustRefetch = true
                            return false
                        case .other:
                            continue
                        }
                    }
                    // Live and caught up: what arrived is stored now, not at the next
                    // heartbeat or full page.
                    if live && state.caughtUp && !state.buffer.isEmpty { try await flush(nil, &state, wait: true) }
                    return true
                })
        } catch let error as ClientError {
            try? await settle(&state)
            throw error
        } catch {
            // Keep what arrived complete; the cursor of the last stored event resumes.
            try? await settle(&state)
            try? await flush(nil, &state, wait: true)
            if state.status == 200, live { return (state.count, false) }
            if let failure = error as? HTTPTransport.ConnectionFailure, failure.connected {
                throw .unreachable(server: connection.server, reason: "resumable: \(error)")
            }
            throw .unreachable(server: connection.server, reason: "\(error)")
        }
        try await flush(nil, &state, wait: true)
        switch state.status {
        case 200:
            if !state.done && !state.mustRefetch && !live {
                throw .unreachable(server: connection.server, reason: "the sync stream ended before up-to-date")
            }
            return (state.count, state.mustRefetch)
        case 409:
            let object = (try? JSONSerialization.jsonObject(with: state.errorBody)) as? [String: Any]
            if ((object?["error"] as? [String: Any])?["code"] as? String) == "must-refetch" { return (state.count, true) }
            throw .protocolError("GET /v1/events: 409 \(Self.message(object))")
        case 401, 403:
            let object = (try? JSONSerialization.jsonObject(with: state.errorBody)) as? [String: Any]
            throw .notAllowed("the server refused to sync (\(state.status)): \(Self.message(object))")
        default:
            let object = (try? JSONSerialization.jsonObject(with: state.errorBody)) as? [String: Any]
            let retry = state.retryAfter.map { "; retry after \($0)" } ?? ""
            throw .unreachable(server: connection.server, reason: "HTTP \(state.status) \(Self.message(object))\(retry)")
        }
    }

    /// Pulled events per replica transaction (the cursor is stored with each). Larger pages
    /// rewrite the pages of `articles` and `annotationArticles` fewer times (a 100,000-event
    /// pull wrote 147 MB of WAL with 2,000, 96 MB with 10,000).
    static let pageSize = 10_000

    /// A sync line read with `JSONSerialization`, for lines `SyncLineReader` leaves alone.
    static func slowItem(_ line: ArraySlice<UInt8>) throws(ClientError) -> SyncLineItem {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
            throw ClientError.protocolError("a sync line is not JSON")
        }
        switch object["kind"] as? String {
        case "event":
            guard let event = object["event"] as? [String: Any] else { throw ClientError.protocolError("event line without event") }
            return .event(try storedEvent(event, cursor: object["cursor"] as? String ?? ""))
        case "up-to-date": return .upToDate(cursor: object["cursor"] as? String)
        case "heartbeat": return .heartbeat(cursor: object["cursor"] as? String)
        case "must-refetch": return .mustRefetch
        default: return .other
        }
    }

    static func storedEvent(_ event: [String: Any], cursor: String) throws(ClientError) -> StoredEvent {
        guard let id = event["id"] as? String, let stream = event["stream"] as? String, let type = event["type"] as? String,
              let revision = (event["revision"] as? NSNumber)?.intValue, let position = (event["position"] as? NSNumber)?.int64Value,
              let data = event["data"] else {
            throw .protocolError("an event line misses fields")
        }
        func text(_ value: Any?) -> String {
            guard let value, let encoded = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else { return "{}" }
            return String(decoding: encoded, as: UTF8.self)
        }
        var articleId = ""
        if let dataObject = data as? [String: Any], let article = dataObject["articleId"] as? String { articleId = article.lowercased() }
        return StoredEvent(
            position: position, cursor: cursor, id: id.lowercased(), stream: stream, revision: revision, type: type,
            schemaVersion: (event["schemaVersion"] as? NSNumber)?.intValue ?? 1, data: text(data), meta: text(event["meta"]),
            recordedAt: event["recordedAt"] as? String ?? "", articleId: articleId)
    }
}
