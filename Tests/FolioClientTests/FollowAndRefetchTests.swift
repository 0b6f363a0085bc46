import EmbeddedPostgres
import FolioClient
import FolioTestSupport
import Foundation
import LibPQ
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `folio sync --follow` (live, pushing, reconnecting, stopping on a signal) and the full
/// resync after `must-refetch`, with the real `folio` binary against a real server.
@Suite("Client follow and refetch", .serialized)
struct FollowAndRefetchTests {
    /// Stdout after its first `offset` bytes.
    static func output(_ process: ChildProcess, after offset: Int) -> String {
        String(decoding: Array(process.stdout.utf8.dropFirst(offset)), as: UTF8.self)
    }

    /// `(retry after, retrying in)` seconds of each line of the follower saying both.
    static func retryDelays(_ text: String) -> [(retryAfter: Double, delay: Double)] {
        func number(after marker: String, in line: Substring) -> Double? {
            guard let range = line.range(of: marker) else { return nil }
            return Double(line[range.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
        return text.split(separator: "\n").compactMap { line in
            guard let retryAfter = number(after: "retry after ", in: line), let delay = number(after: "retrying in ", in: line) else { return nil }
            return (retryAfter, delay)
        }
    }

    /// `folio serve` on `url` (`port` 0: any free one); returns the process and its base URL.
    /// A real process, so "the server goes away" closes its socket for good.
    static func serve(_ url: String, port: Int = 0) async throws -> (ChildProcess, String) {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FOLIO_") }
        environment["FOLIO_DATABASE_URL"] = url
        environment["FOLIO_MIGRATIONS_DIR"] = Repository.migrations.path
        environment["FOLIO_LOG_LEVEL"] = "warning"
        let process = try ChildProcess(Repository.folioBinary, ["serve", "--listen", "127.0.0.1:\(port)"], environment: environment)
        let output = try await process.waitForOutput(containing: "listening on http://")
        guard let range = output.range(of: "listening on "), let base = output[range.upperBound...].split(separator: "\n").first else {
            throw MachineError.failed(["serve"], -1, output)
        }
        return (process, String(base))
    }

    /// Stops a `folio serve` process with SIGTERM and expects a clean exit.
    static func stop(_ process: ChildProcess) async throws {
        process.send(SIGTERM)
        let outcome = try await process.wait(timeout: .seconds(60))
        #expect(outcome.status == 0, "\(outcome.stderr)")
    }

    /// One query on a connection of its own (the database restarts during the test).
    static func query<T: PostgresDecodable>(_ url: String, _ sql: String, _ type: T.Type) throws -> [T] {
        let connection = try Connection(configuration: TestPostgres.configuration(url))
        return try connection.execute(sql).map { try $0.decode(T.self, at: 0) }
    }

    /// The replica holds the log once, in the server's order, and nothing of its own waits
    /// in the outbox.
    static func caughtUp(_ replica: Replica, database url: String) throws -> Bool {
        let expected = try query(url, "SELECT event_id::text FROM events ORDER BY epoch, transaction_id, position", String.self)
        return try replica.pulledEventIds() == expected && replica.outbox(states: [.pending, .pushed]).isEmpty
    }

    static func count(_ url: String) throws -> Int {
        try query(url, "SELECT count(*)::int8 FROM events", Int.self).first ?? 0
    }

    @Test("sync --follow: live in both directions, reconnects after the server and the database come back, stops on SIGTERM and SIGINT")
    func follow() async throws {
        // A cluster of its own, so the database can go down while the server stays.
        let cluster = try TestPostgres.privateCluster("follow")
        let database = try await cluster.start()
        defer { try? cluster.stop() }
        let url = database.url
        let setup = try await SyncServer.prepare(url: url)
        var (server, base) = try await Self.serve(url)
        defer { server.send(SIGKILL) }
        let port = try #require(URLComponents(string: base)?.port)
        let a = try Machine("follower"), b = try Machine("writer")
        for machine in [a, b] {
            #expect(try await machine.run(["login", "--server", base, "--token", setup[.editor]!]).status == 0)
        }
        _ = try await b.object(["import", try b.file("barish.txt", "दिल्ली में बारिश\n\n" + Texts.hindi)])
        _ = try await b.object(["sync"])

        let follower = try a.start(["sync", "--follow", "--json"])
        defer { follower.send(SIGKILL) }
        try await follower.waitForOutput(containing: "synced")
        let replica = try a.workspace().replica
        #expect(try replica.eventCount() == 1)

        // Another machine's event arrives without a command.
        _ = try await b.object(["annotate", "barish", "--quote", "मीनार", "--note", "from the writer"])
        _ = try await b.object(["sync"])
        #expect(try await Eventually.poll(every: .milliseconds(100)) { try Self.caughtUp(replica, database: url) })
        #expect(try replica.eventCount() == 2)

        // A local write made while it follows is pushed (and comes back on the stream).
        _ = try await a.object(["annotate", "barish", "--quote", "यातायात", "--note", "while following"])
        #expect(try await Eventually.poll(every: .milliseconds(100)) { try Self.count(url) == 3 && Self.caughtUp(replica, database: url) })

        // The server goes away: the follower keeps trying; a write meanwhile stays queued.
        try await Self.stop(server)
        _ = try await a.object(["annotate", "barish", "--quote", "नदी", "--note", "while the server is away"])
        try await follower.waitForOutput(containing: "retrying in")
        #expect(try await a.object(["status"])["pending"] as? Int == 1)
        // Back on the same address: the queued write drains, the stream resumes from the cursor.
        (server, _) = try await Self.serve(url, port: port)
        _ = try await b.object(["annotate", "barish", "--quote", "सड़कें", "--note", "after the restart"])
        _ = try await b.object(["sync"])
        #expect(try await Eventually.poll(every: .milliseconds(100)) { try Self.count(url) == 5 && Self.caughtUp(replica, database: url) })

        // The database goes away and the server restarts meanwhile: it answers 503 with
        // Retry-After, and the follower waits at least that long before it tries again.
        let seen = follower.stdout.utf8.count
        try cluster.stop()
        try await Self.stop(server)
        (server, _) = try await Self.serve(url, port: port)
        #expect(try await Eventually.poll(every: .milliseconds(100)) { !Self.retryDelays(Self.output(follower, after: seen)).isEmpty })
        let delays = Self.retryDelays(Self.output(follower, after: seen))
        #expect(!delays.isEmpty, "\(Self.output(follower, after: seen))")
        for (retryAfter, delay) in delays { #expect(delay >= retryAfter, "waited \(delay) s for Retry-After \(retryAfter)") }
        try cluster.restart(onPort: database.port)
        #expect(try await Eventually.poll(every: .milliseconds(100)) { try await HTTP.get("\(base)/readyz").status == 200 })
        _ = try await b.object(["annotate", "barish", "--quote", "लोगों", "--note", "after the outage"])
        _ = try await b.object(["sync"])
        #expect(try await Eventually.poll(every: .milliseconds(100)) { try Self.count(url) == 6 && Self.caughtUp(replica, database: url) })
        #expect(try Self.query(url, "SELECT count(*)::int8 FROM (SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1) d", Int.self) == [0])
        let workspace = try a.workspace()
        #expect(try workspace.view(try workspace.resolve("barish")).annotations.count == 5)

        follower.send(SIGTERM)
        let stopped = try await follower.wait(timeout: .seconds(60))
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(stopped.stdout.contains("stopped"))

        let again = try a.start(["sync", "--follow"])
        defer { again.send(SIGKILL) }
        try await again.waitForOutput(containing: "synced")
        again.send(SIGINT)
        let interrupted = try await again.wait(timeout: .seconds(60))
        #expect(interrupted.status == 0, "\(interrupted.stderr)")
        #expect(try Self.caughtUp(replica, database: url))
        try await Self.stop(server)
    }

    @Test("must-refetch after a restore: the replica refetches everything, keeps its outbox, pushes it, and agrees with the server")
    func mustRefetch() async throws {
        var server = try await SyncServer.start("refetch")
        let tokens = server.tokens
        let a = try Machine("refetch-a"), b = try Machine("refetch-b")
        for machine in [a, b] {
            #expect(try await machine.run(["login", "--server", server.base, "--token", tokens[.editor]!]).status == 0)
        }
        let imported = try await b.object(["import", try b.file("barish.txt", "दिल्ली में बारिश\n\n" + Texts.hindi)])
        let articleId = try #require(imported["articleId"] as? String)
        _ = try await b.object(["sync"])
        _ = try await a.object(["sync"])

        // Offline on a: an edit, an annotation of the text that edit inserts (it waits for the
        // edit's revision), and a plain annotation.
        _ = try await a.object(["edit", "barish", "--replace", "भारी बारिश", "--with", "मूसलाधार बारिश"])
        _ = try await a.object(["annotate", "barish", "--quote", "मूसलाधार", "--note", "on my pending edit"])
        _ = try await a.object(["annotate", "barish", "--quote", "यातायात", "--note", "plain"])
        #expect(try a.workspace().replica.outbox(states: [.pending]).count == 3)

        // A restore, simulated as the serve test does: a logged transaction id far ahead of
        // the database's, so the restarted store begins a new epoch and every cursor of the
        // old one gets must-refetch. The event is a valid retitle of the article.
        await server.close()
        let admin = try Connection(configuration: TestPostgres.configuration(server.url))
        _ = try admin.query("""
            INSERT INTO events (epoch, stream_id, stream_revision, event_id, event_type, data, article_id, transaction_id)
            VALUES (1, \("article-" + articleId), 2, gen_random_uuid(), 'ArticleRetitled',
                    \(#"{"articleId": ""# + articleId + #"", "title": "बारिश का दिन"}"#)::jsonb, \(articleId)::uuid,
                    (pg_current_xact_id()::text::bigint + 1000000)::text::xid8)
            """)
        server = try await SyncServer.start(url: server.url, tokens: tokens)
        let ready = try await HTTP.get("\(server.base)/readyz").json()
        #expect(ready["epoch"] as? Int == 2)
        for machine in [a, b] {
            #expect(try await machine.run(["login", "--server", server.base, "--token", tokens[.editor]!]).status == 0)
        }

        // b (nothing queued) refetches and edits in the new epoch.
        _ = try await b.object(["sync"])
        _ = try await b.object(["edit", "barish", "--replace", "यातायात धीमा", "--with", "यातायात बहुत धीमा"])
        _ = try await b.object(["sync"])

        let sync = try await a.object(["sync"])
        #expect(sync["pushed"] as? Int == 3)
        // Everything was pulled again (an incremental pull would have pulled one fewer).
        #expect(sync["pulled"] as? Int == (try await server.count()))
        let replica = try a.workspace().replica
        #expect(try Self.caughtUp(replica, database: server.url))
        #expect(try await server.duplicateIds() == 0)
        #expect(try await server.count() == 6)

        _ = try await b.object(["sync"])
        let fresh = try Machine("refetch-fresh")
        _ = try await fresh.run(["login", "--server", server.base, "--token", tokens[.reader]!])
        _ = try await fresh.object(["sync"])
        let expected = try await SyncTests.snapshot(fresh, "barish")
        #expect(expected.contains("बारिश का दिन"))
        #expect(expected.contains("मूसलाधार"))
        #expect(expected.contains("on my pending edit"))
        #expect(expected.contains("बहुत धीमा"))
        #expect(try await SyncTests.snapshot(a, "barish") == expected)
        #expect(try await SyncTests.snapshot(b, "barish") == expected)
        let revision = try #require(try await fresh.object(["show", "barish"])["revision"] as? Int)
        #expect(try await server.readModelSnapshot("barish", revision: revision) == expected)
        await server.close()
    }
}
