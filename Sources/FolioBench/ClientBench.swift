import FolioClient
import FolioCore
import FolioServer
import FolioStore
import Foundation
import LibPQ
import Logging
import ServiceLifecycle

/// The offline client (issue 7): a fresh client home pulling the whole log into its SQLite
/// replica through `SyncClient.sync()` (the code path of `folio sync`), next to the server's
/// own catch-up rate over `GET /v1/events` and psql COPY of the same rows, in one run on one
/// durable cluster. The log looks like real use: articles of about 300 bytes of Hindi, small
/// edits against them and annotations on them, all built with the core's types.
struct ClientBench {
    let url: String
    let events: Int
    let rounds: Int
    /// Folder under which each round's fresh client home is made.
    let homeRoot: URL

    /// Per article: created, then edits and annotations alternating (1 + 5 + 4 events).
    static let eventsPerArticle = 10
    /// Articles whose events are interleaved in the log.
    static let articlesPerGroup = 1_000

    func run() async throws -> Report {
        let bench = try await BenchServer.start(url: url, label: "client")
        let (admin, token, bound) = (bench.admin, bench.token, bench.port)

        var report = Report()
        report.machine = Machine.describe()
        report.server = try await admin.query("SELECT version()").scalar(String.self)

        let copyIn = try await load(admin)
        let storeBench = StoreBench(url: url, seconds: 0, catchUpEvents: events)
        let psql = try storeBench.psqlCopyOut()
        let serverBench = ServerBench(url: url, seconds: 0, catchUpEvents: events)
        var serverRuns: [Double] = [], clientRuns: [Double] = []
        // Server and client alternate, so drift in the machine hits both alike.
        var serverCPU: [Double] = [], clientCPU: [Double] = []
        for round in 0..<max(1, rounds) {
            var cpuStart = cpuMicros()
            serverRuns.append(try await serverBench.catchUp(port: bound, token: token))
            serverCPU.append(cpuMicros() - cpuStart)
            cpuStart = cpuMicros()
            clientRuns.append(try await pull(port: bound, token: token, round: round))
            clientCPU.append(cpuMicros() - cpuStart)
        }
        // The pull's process CPU includes the server's side of it (the same work as a
        // catch-up), so the client's own CPU per event is the difference.
        let perEvent = (median(clientCPU) - median(serverCPU)) / Double(events)
        log(String(format: "process CPU (median): catch-up %.2f s, pull %.2f s; the client's own about %.1f µs per event",
                   median(serverCPU) / 1e6, median(clientCPU) / 1e6, perEvent))
        let serverRate = median(serverRuns), clientRate = median(clientRuns)
        report.rows += [
            .init(what: "load the log, \(events) events (articles, edits, annotations)", synchronousCommit: "on", tool: "wrapper copyIn, 10,000 rows per COPY", rate: copyIn),
            .init(what: "the log in read order, \(events) events", synchronousCommit: "-", tool: "psql COPY (SELECT …) TO STDOUT > /dev/null", rate: psql),
            .init(what: "catch-up over GET /v1/events (median of \(rounds))", synchronousCommit: "-", tool: "folio server, loopback, counting lines", rate: serverRate, ratio: serverRate / psql),
            .init(what: "fresh client home, full pull into the replica (median of \(rounds))", synchronousCommit: "-", tool: "FolioClient SyncClient.sync() (vs. the server's catch-up)", rate: clientRate, ratio: clientRate / serverRate),
        ]
        await bench.stop()
        return report
    }

    /// One fresh home: log in, then one `sync()` that pulls the whole log; events per second.
    func pull(port: Int, token: String, round: Int) async throws -> Double {
        let home = homeRoot.appendingPathComponent("home-\(round)")
        try? FileManager.default.removeItem(at: home)
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let workspace = try Workspace(home: home)
        try workspace.login(server: "http://127.0.0.1:\(port)", token: token, device: "bench")
        let client = SyncClient(replica: workspace.replica)
        let cpuStart = cpuMicros()
        let start = ContinuousClock.now
        let result = try await client.sync()
        let elapsed = (ContinuousClock.now - start).seconds
        let cpu = (cpuMicros() - cpuStart) / 1e6
        let stored = try workspace.replica.eventCount()
        guard result.pulled == events, stored == events else {
            throw BenchError.failed("the client pulled \(result.pulled) events and stored \(stored), expected \(events)")
        }
        let articles = try workspace.replica.pulledArticles().count
        let size = ((try? FileManager.default.attributesOfItem(atPath: workspace.replica.path)[.size]) as? NSNumber)?.intValue ?? 0
        let walSize = ((try? FileManager.default.attributesOfItem(atPath: workspace.replica.path + "-wal")[.size]) as? NSNumber)?.intValue ?? 0
        let rate = Double(stored) / elapsed
        log(String(format: "client pull %d: %d events in %.2f s, %.0f events/s, process CPU %.2f s (server included), %d articles, replica %d MB (WAL %d MB)",
                   round, stored, elapsed, rate, cpu, articles, size >> 20, walSize >> 20))
        return rate
    }

    /// Fills the log with `events` valid events by COPY (10,000 rows per COPY); returns rows
    /// per second of the COPYs alone (the rows are built first).
    func load(_ admin: ConnectionPool) async throws -> Double {
        let existing = try await admin.query("SELECT count(*) FROM events").scalar(Int.self)
        guard existing == 0 else { throw BenchError.failed("the log is not empty (\(existing) events)") }
        log("building \(events) events")
        var rows: [[String?]] = []
        rows.reserveCapacity(events)
        // Groups of 1,000 articles written at once, their events interleaved round-robin (as
        // in a newsroom: many articles edited and annotated in the same hours).
        var article = 0
        while rows.count < events {
            var group: [[[String?]]] = []
            for _ in 0..<Self.articlesPerGroup {
                group.append(try Self.article(article))
                article += 1
            }
            for index in 0..<Self.eventsPerArticle {
                for articleRows in group where rows.count < events { rows.append(articleRows[index]) }
            }
        }
        log("loading \(events) events by COPY")
        let start = ContinuousClock.now
        var loaded = 0
        while loaded < rows.count {
            let chunk = rows[loaded..<min(rows.count, loaded + 10_000)]
            try await admin.withConnection { connection in
                try connection.copyIn("COPY events (stream_id, stream_revision, event_id, event_type, data, metadata, article_id) FROM STDIN") { writer in
                    for row in chunk { try writer.writeRow(row) }
                }
            }
            loaded += chunk.count
        }
        let rate = Double(loaded) / (ContinuousClock.now - start).seconds
        log("COPY in: \(Int(rate)) rows/s")
        try await admin.execute("VACUUM ANALYZE events")
        return rate
    }

    /// About 300 bytes of Hindi news text (NFC); each quote below occurs once.
    static let text = "नई दिल्ली: मौसम विभाग ने आज राजधानी और आसपास के इलाकों में भारी बारिश की चेतावनी दी। यातायात धीमा रहा और कई स्कूल बंद रहे। नगर निगम ने लोगों से घर पर रहने की अपील की।"
    static let quotes = ["भारी बारिश", "यातायात", "मौसम विभाग", "नगर निगम"]

    /// The COPY rows of article `n`: `ArticleCreated`, then `ArticleEdited` (a short update
    /// appended at the end, based on the previous revision) and `AnnotationAdded` (a quote of
    /// the current text) alternating. Valid for the core: every edit applies, every target
    /// matches its revision's text.
    static func article(_ n: Int) throws -> [[String?]] {
        let articleId = UUID()
        let created = ArticleCreated(
            articleId: articleId, slug: "barish-\(n)", title: "दिल्ली में बारिश \(n)", language: "hi", text: text)
        var current = ScalarText(created.text)
        var revision = 1
        var rows = [try row(.articleCreated(created), revision: 1, article: articleId)]
        var edits = 0, annotations = 0
        while rows.count < eventsPerArticle {
            if edits <= annotations {
                edits += 1
                let ops = try TextEdit([.retain(current.count), .insert(" अपडेट \(edits): बारिश जारी।")])
                let edited = ArticleEdited(articleId: articleId, baseRevision: revision, ops: ops, summary: "अपडेट \(edits)")
                current = try ops.apply(to: current)
                revision += 1
                rows.append(try row(.articleEdited(edited), revision: revision, article: articleId))
            } else {
                let target = try AnnotationTarget.create(in: current, quote: quotes[annotations % quotes.count])
                annotations += 1
                let added = AnnotationAdded(
                    annotationId: UUID(), articleId: articleId, revision: revision, target: target,
                    body: "स्रोत की पुष्टि करें (\(annotations))", tags: ["fact-check"])
                rows.append(try row(.annotationAdded(added), revision: 1, article: articleId))
            }
        }
        return rows
    }

    static func row(_ event: FolioEvent, revision: Int, article: UUID) throws -> [String?] {
        try event.data.validate()
        return [
            event.streamID, String(revision), UUID().uuidString.lowercased(), event.type, try event.jsonText(),
            #"{"author": "bench", "client": "bench-loader"}"#, article.uuidString.lowercased(),
        ]
    }
}
