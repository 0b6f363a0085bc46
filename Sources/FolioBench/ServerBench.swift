import EmbeddedPostgres
import FolioServer
import FolioStore
import Foundation
import LibPQ
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The server (issue 6): single-event appends over HTTP from 16 clients next to the store's
/// direct rate and pgbench; catch-up over the sync endpoint next to COPY; commit-to-client
/// latency of live streams. One durable cluster, one run.
struct ServerBench {
    let url: String
    let seconds: Int
    let catchUpEvents: Int
    /// Rounds of the append comparison (the store directly and wrk over HTTP alternate; medians).
    var rounds = 1
    let liveStreams = 16
    let liveEvents = 400

    func run() async throws -> Report {
        let bench = try await BenchServer.start(url: url, label: "server")
        let (admin, store, token, bound) = (bench.admin, bench.store, bench.token, bench.port)

        var report = Report()
        report.machine = Machine.describe()
        report.server = try await admin.query("SELECT version()").scalar(String.self)
        let storeBench = StoreBench(url: url, seconds: seconds, catchUpEvents: catchUpEvents)
        let pgbench16 = try storeBench.pgbench(clients: 16)
        let http16 = try await httpAppends(port: bound, token: token, clients: 16, store: store)
        // The store directly and wrk over HTTP alternate, so drift in the machine hits both alike.
        var directRuns: [Double] = [], wrkRuns: [Double] = []
        for round in 1...max(1, rounds) {
            directRuns.append(try await storeBench.appends(store, callers: 16, batch: 1))
            guard let wrk16 = try await wrkAppends(port: bound, token: token, clients: 16, store: store) else { break }
            wrkRuns.append(wrk16)
            log(String(format: "round %d: HTTP from wrk %.0f/s, the store directly %.0f/s: %.0f %%",
                       round, wrk16, directRuns.last!, wrk16 / directRuns.last! * 100))
        }
        let direct16 = median(directRuns)
        let medians = rounds > 1 ? " (median of \(rounds))" : ""
        report.rows += [
            .init(what: "single-row INSERT of an event row, durable", synchronousCommit: "on", tool: "pgbench -M prepared -c 16 -j 2", rate: pgbench16),
            .init(what: "append 1 event per call, 16 callers\(medians)", synchronousCommit: "on", tool: "EventStore.append (in process)", rate: direct16, ratio: direct16 / pgbench16),
            .init(what: "POST /v1/events, 1 event per request, 16 keep-alive clients", synchronousCommit: "on", tool: "folio server, clients in this process (vs. the store's direct rate)", rate: http16, ratio: http16 / direct16),
        ]
        if !wrkRuns.isEmpty {
            let wrk16 = median(wrkRuns)
            report.rows.append(.init(
                what: "POST /v1/events, 1 event per request, 16 keep-alive connections\(medians)", synchronousCommit: "on",
                tool: "folio server, load from wrk -t 2 -c 16 (vs. the store's direct rate)", rate: wrk16, ratio: wrk16 / direct16))
        }
        let latency = try await liveLatency(port: bound, token: token, store: store)
        report.rows += [
            .init(what: "live stream latency, commit → client, p50 (ms)", synchronousCommit: "on", tool: "\(liveStreams) live streams, \(liveEvents) single-event appends", rate: latency.commitP50),
            .init(what: "live stream latency, commit → client, p99 (ms)", synchronousCommit: "on", tool: "same", rate: latency.commitP99),
            .init(what: "live stream latency, append call → client, p50 (ms)", synchronousCommit: "on", tool: "same (includes the durable commit)", rate: latency.callP50),
            .init(what: "live stream latency, append call → client, p99 (ms)", synchronousCommit: "on", tool: "same", rate: latency.callP99),
        ]

        try await storeBench.load(admin, count: catchUpEvents)
        let psql = try storeBench.psqlCopyOut()
        let sync = try await catchUp(port: bound, token: token)
        report.rows += [
            .init(what: "the log in read order, \(catchUpEvents) events", synchronousCommit: "-", tool: "psql COPY (SELECT …) TO STDOUT > /dev/null", rate: psql),
            .init(what: "catch-up over GET /v1/events (NDJSON, one request)", synchronousCommit: "-", tool: "folio server, loopback", rate: sync, ratio: sync / psql),
        ]
        await bench.stop()
        return report
    }

    static func body(_ article: UUID) -> ByteBuffer {
        let id = article.uuidString.lowercased()
        return ByteBuffer(string: #"{"events": [{"id": "\#(UUID().uuidString.lowercased())", "type": "ArticleCreated", "data": {"articleId": "\#(id)", "language": "hi", "slug": "barish", "text": "\#(StoreBench.text)", "title": "दिल्ली में बारिश"}}]}"#)
    }

    /// `clients` keep-alive connections, each posting one event per request for `seconds`.
    func httpAppends(port: Int, token: String, clients: Int, store: EventStore) async throws -> Double {
        let end = ContinuousClock.now + .seconds(seconds)
        let start = ContinuousClock.now
        let cpuBefore = cpuMicros()
        let commitsBefore = store.commitStatistics
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    let channel = try await BenchHTTP.connect(host: "127.0.0.1", port: port)
                    return try await channel.executeThenClose { inbound, outbound in
                        var responses = inbound.makeAsyncIterator()
                        var count = 0
                        while ContinuousClock.now < end {
                            let body = Self.body(UUID())
                            // One write of the three parts: the client's own cost should stay small
                            // next to the server's, since both run in this process.
                            try await outbound.write(contentsOf: [
                                .head(BenchHTTP.head(.POST, "/v1/events", host: "127.0.0.1:\(port)", token: token, contentLength: body.readableBytes)),
                                .body(.byteBuffer(body)), .end(nil),
                            ])
                            let (status, answer) = try await BenchHTTP.response(&responses)
                            guard status == 200 else { throw BenchError.failed("POST answered \(status): \(String(buffer: answer))") }
                            count += 1
                        }
                        return count
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        let rate = Double(total) / (ContinuousClock.now - start).seconds
        let commitsAfter = store.commitStatistics
        log(String(format: "  %.1f append calls per commit over HTTP", Double(commitsAfter.requests - commitsBefore.requests) / Double(max(1, commitsAfter.commits - commitsBefore.commits))))
        log(String(format: "HTTP appends, %d clients: %.0f events/s, %.0f µs CPU per request (server and bench clients)", clients, rate, (cpuMicros() - cpuBefore) / Double(max(total, 1))))
        return rate
    }

    /// The same requests from `wrk` (C and LuaJIT; 16 keep-alive connections on 2 threads): the
    /// server's rate under a load generator that costs little CPU, as pgbench is for
    /// PostgreSQL. Every request carries new event and article ids; any answer but 200 fails
    /// the run. Nil (skipped, with a line on stderr) when wrk is not installed (`apt-get install wrk`).
    func wrkAppends(port: Int, token: String, clients: Int, store: EventStore) async throws -> Double? {
        let wrk = Tools.path("wrk")
        guard FileManager.default.isExecutableFile(atPath: wrk) else {
            log("wrk not found: the HTTP measurement with an external load generator is skipped (apt-get install wrk)")
            return nil
        }
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("folio-bench-append.lua")
        try Self.wrkScript(token: token).write(to: script, atomically: true, encoding: .utf8)
        let commitsBefore = store.commitStatistics
        let cpuBefore = cpuMicros()
        // Waiting for wrk blocks a thread: not one of Swift's cooperative threads, which serve.
        let arguments = ["-t", "2", "-c", String(clients), "-d", "\(seconds)s", "-s", script.path, "http://127.0.0.1:\(port)/v1/events"]
        let outcome = try await NIOThreadPool.singleton.runIfActive {
            try Subprocess.run(wrk, arguments, environment: ProcessInfo.processInfo.environment)
        }
        let lines = outcome.output.split(separator: "\n")
        guard outcome.status == 0, !lines.contains(where: { $0.contains("Non-2xx") || $0.contains("Socket errors") }),
            let line = lines.first(where: { $0.hasPrefix("Requests/sec:") }),
            let rate = Double(line.dropFirst("Requests/sec:".count).trimmingCharacters(in: .whitespaces)),
            let total = lines.first(where: { $0.contains("requests in") }).flatMap({ Int($0.split(separator: " ").first ?? "") })
        else {
            throw BenchError.failed("wrk failed: \(outcome.output)")
        }
        // wrk stops with requests still in flight; let them commit before the next measurement
        // (the live streams would count them as their own events).
        try await Task.sleep(for: .seconds(1))
        let commitsAfter = store.commitStatistics
        log(String(format: "  %.1f append calls per commit under wrk", Double(commitsAfter.requests - commitsBefore.requests) / Double(max(1, commitsAfter.commits - commitsBefore.commits))))
        log(String(format: "HTTP appends from wrk, %d connections: %.0f events/s, %.0f µs server CPU per request", clients, rate, (cpuMicros() - cpuBefore) / Double(max(total, 1))))
        return rate
    }

    /// wrk's Lua script: the body of ``body(_:)`` with ids unique per thread and run.
    static func wrkScript(token: String) -> String {
        let data = StoreBench.payload(UUID())  // no backslashes or "]]": it goes into Lua long strings
        let (before, after) = data.range(of: #""articleId": ""#).map { range in
            (String(data[..<range.upperBound]), String(data[data.index(range.upperBound, offsetBy: 36)...]))
        }!
        return #"""
            -- Generated by FolioBench (ServerBench.wrkScript).
            wrk.method = "POST"
            wrk.headers["Content-Type"] = "application/json"
            wrk.headers["Authorization"] = "Bearer \#(token)"
            local threads = 0
            function setup(thread)
              threads = threads + 1
              thread:set("tid", threads)
            end
            local run = 0
            local n = 0
            function init(args)
              run = os.time() % 0x10000000
            end
            local function id()
              n = n + 1
              return string.format("%08x-%04x-4000-8000-%012x", run, tid, n)
            end
            local before = [[{"events": [{"id": "]]
            local middle = [[", "type": "ArticleCreated", "data": \#(before)]]
            local after = [[\#(after)}]}]]
            request = function()
              local event = id()
              local article = id()
              return wrk.format(nil, nil, nil, before .. event .. middle .. article .. after)
            end
            """#
    }

    /// The whole log over one `GET /v1/events`, counting lines.
    func catchUp(port: Int, token: String) async throws -> Double {
        let channel = try await BenchHTTP.connect(host: "127.0.0.1", port: port)
        let start = ContinuousClock.now
        let lines = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(.head(BenchHTTP.head(.GET, "/v1/events", host: "127.0.0.1:\(port)", token: token)))
            try await outbound.write(.end(nil))
            var lines = 0
            for try await part in inbound {
                switch part {
                case .head(let head): guard head.status == .ok else { throw BenchError.failed("GET answered \(head.status)") }
                case .body(let buffer): lines += buffer.readableBytesView.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                case .end: return lines
                }
            }
            return lines
        }
        let events = lines - 1
        let rate = Double(events) / (ContinuousClock.now - start).seconds
        log("sync endpoint catch-up: \(events) events, \(Int(rate)) events/s")
        return rate
    }

    struct Latency {
        var commitP50: Double, commitP99: Double, callP50: Double, callP99: Double
    }

    /// `liveStreams` live streams; `liveEvents` single-event appends one after another; for each
    /// (stream, event) the time from the append's return (its commit) and from its call to the
    /// line's arrival.
    func liveLatency(port: Int, token: String, store: EventStore) async throws -> Latency {
        let arrivals = Locked([String: [ContinuousClock.Instant]]())
        let ready = Locked(0)
        let readers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<liveStreams {
                    group.addTask {
                        let channel = try await BenchHTTP.connect(host: "127.0.0.1", port: port)
                        try await channel.executeThenClose { inbound, outbound in
                            try await outbound.write(.head(BenchHTTP.head(.GET, "/v1/events?live=true&after=\(try await store.head())", host: "127.0.0.1:\(port)", token: token)))
                            try await outbound.write(.end(nil))
                            var pending: [UInt8] = []
                            var seen = 0
                            for try await part in inbound {
                                guard case .body(let buffer) = part else { continue }
                                let now = ContinuousClock.now
                                pending += buffer.readableBytesView
                                while let newline = pending.firstIndex(of: 0x0A) {
                                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                                    pending.removeSubrange(...newline)
                                    if line.contains(#""kind":"up-to-date""#) { ready.withLock { $0 += 1 } }
                                    if let range = line.range(of: #","id":""#) {
                                        let id = String(line[range.upperBound...].prefix(36))
                                        arrivals.withLock { $0[id, default: []].append(now) }
                                        seen += 1
                                    }
                                }
                                if seen >= liveEvents { return }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        while ready.withLock({ $0 }) < liveStreams { try await Task.sleep(for: .milliseconds(10)) }
        var calls: [String: (call: ContinuousClock.Instant, commit: ContinuousClock.Instant)] = [:]
        for _ in 0..<liveEvents {
            let event = StoreBench.event()
            let call = ContinuousClock.now
            try await store.append([event])
            calls[event.id.uuidString.lowercased()] = (call, ContinuousClock.now)
            try await Task.sleep(for: .milliseconds(5))
        }
        try await readers.value
        var fromCommit: [Double] = [], fromCall: [Double] = []
        for (id, times) in arrivals.withLock({ $0 }) {
            guard let sent = calls[id] else { continue }
            for arrival in times {
                fromCommit.append(max(0, (arrival - sent.commit).seconds * 1000))
                fromCall.append((arrival - sent.call).seconds * 1000)
            }
        }
        func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        let latency = Latency(
            commitP50: percentile(fromCommit, 0.5), commitP99: percentile(fromCommit, 0.99), callP50: percentile(fromCall, 0.5),
            callP99: percentile(fromCall, 0.99))
        log(String(format: "live latency over %d samples: commit→client p50 %.2f ms, p99 %.2f ms; call→client p50 %.2f ms, p99 %.2f ms",
                   fromCommit.count, latency.commitP50, latency.commitP99, latency.callP50, latency.callP99))
        return latency
    }
}

/// A value shared between tasks.
final class Locked<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { storage.withLock { body(&$0) } }
}
