import EmbeddedPostgres
import FolioTestSupport
import Foundation
import LibPQ
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real `folio` binary: `migrate` and `serve`, with their exit codes.
@Suite("folio command")
struct CommandTests {
    /// The environment for `folio`, without any inherited FOLIO_* setting.
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FOLIO_") }
        environment["FOLIO_LOG_LEVEL"] = "info"
        environment["FOLIO_MIGRATIONS_DIR"] = Repository.migrations.path
        environment.merge(extra) { $1 }
        return environment
    }

    func folio(_ arguments: [String], _ extra: [String: String] = [:]) async throws -> ChildProcess.Outcome {
        try await ChildProcess.run(Repository.folioBinary, arguments, environment: Self.environment(extra))
    }

    @Test func migrateUpStatusVerifyEndToEnd() async throws {
        let url = try await TestPostgres.freshDatabase("cli")
        let env = ["FOLIO_DATABASE_URL": url]
        let migrationCount = try FileManager.default.contentsOfDirectory(atPath: Repository.migrations.path).filter { $0.hasSuffix(".sql") }.count

        let before = try await folio(["migrate", "status", "--json"], env)
        #expect(before.status == 0, "\(before.stderr)")
        let beforeJSON = try JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [String: Any]
        #expect(beforeJSON?["pending"] as? Int == migrationCount)
        #expect(beforeJSON?["current"] as? Bool == false)

        let up = try await folio(["migrate", "up", "--json"], env)
        #expect(up.status == 0, "\(up.stderr)")
        let applied = (try JSONSerialization.jsonObject(with: Data(up.stdout.utf8)) as? [String: Any])?["applied"] as? [[String: Any]]
        #expect(applied?.count == migrationCount)

        let again = try await folio(["migrate", "up"], env)
        #expect(again.status == 0)
        #expect(again.stdout.contains("up to date"))

        let verify = try await folio(["migrate", "verify"], env)
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains("0001  event_log"))

        // An applied file edited afterwards: verify exits 65 and up refuses.
        let folder = try Repository.copyOfMigrations()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("0002_append_only.sql")
        try (try String(contentsOf: file, encoding: .utf8)).replacingOccurrences(of: "append-only", with: "append only").write(to: file, atomically: true, encoding: .utf8)
        let changed = try await folio(["migrate", "verify", "--migrations-dir", folder.path], env)
        #expect(changed.status == 65)
        #expect(changed.stdout.contains("CHANGED"))
        #expect(changed.stderr.contains("never edited"))
        let refused = try await folio(["migrate", "up", "--migrations-dir", folder.path], env)
        #expect(refused.status == 65)
    }

    @Test func migrateExitCodes() async throws {
        let noDatabase = try await folio(["migrate", "status"])
        #expect(noDatabase.status == 64)
        #expect(noDatabase.stderr.contains("FOLIO_DATABASE_URL"))

        let unreachable = try await folio(["migrate", "status", "--database-url", "postgresql://folio:pw@127.0.0.1:1/folio?connect_timeout=2"])
        #expect(unreachable.status == 69)
        #expect(unreachable.stderr.contains("refused"))
        #expect(!unreachable.stderr.contains(":pw@"))

        let badFlag = try await folio(["migrate", "up", "--to", "seven"])
        #expect(badFlag.status == 64)
    }

    @Test func serveAnswersHealthAndReadinessAndStopsOnSIGTERM() async throws {
        let url = try await TestPostgres.freshDatabase("serve")
        let process = try ChildProcess(
            Repository.folioBinary, ["serve", "--listen", "127.0.0.1:0", "--migrate"],
            environment: Self.environment(["FOLIO_DATABASE_URL": url]))
        let output = try await process.waitForOutput(containing: "listening on http://")
        let base = try #require(Self.listeningURL(output))

        let health = try await HTTP.get("\(base)/healthz")
        #expect(health.status == 200)
        #expect(try health.json()["status"] as? String == "ok")
        let ready = try await HTTP.get("\(base)/readyz")
        #expect(ready.status == 200, "\(ready.text)")
        #expect(try ready.json()["migrations"] as? String == "current")

        process.send(SIGTERM)
        let outcome = try await process.wait(timeout: .seconds(30))
        #expect(outcome.status == 0, "\(outcome.stderr)")
    }

    @Test func readinessIs503UntilMigrated() async throws {
        let url = try await TestPostgres.freshDatabase("unmigrated")
        let process = try ChildProcess(
            Repository.folioBinary, ["serve", "--listen", "127.0.0.1:0", "--no-migrate"],
            environment: Self.environment(["FOLIO_DATABASE_URL": url]))
        defer { process.send(SIGKILL) }
        let base = try #require(Self.listeningURL(try await process.waitForOutput(containing: "listening on http://")))
        #expect(try await HTTP.get("\(base)/healthz").status == 200)
        let notReady = try await HTTP.get("\(base)/readyz")
        #expect(notReady.status == 503)
        #expect(notReady.headers["retry-after"] != nil)
        let error = try notReady.json()["error"] as? [String: Any]
        #expect(error?["code"] as? String == "database-unavailable" || error?["code"] as? String == "migrations-pending")

        let migrate = try await folio(["migrate", "up"], ["FOLIO_DATABASE_URL": url])
        #expect(migrate.status == 0)
        // Sessions opened before the role existed failed; new ones succeed now.
        #expect(try await Self.waitForStatus(200, at: "\(base)/readyz") == 200)
    }

    @Test func readinessFollowsTheDatabaseGoingAwayAndComingBack() async throws {
        let cluster = try TestPostgres.privateCluster("readyz")
        let running = try await cluster.start()
        let process = try ChildProcess(
            Repository.folioBinary, ["serve", "--listen", "127.0.0.1:0", "--migrate"],
            environment: Self.environment(["FOLIO_DATABASE_URL": running.url]))
        defer { process.send(SIGKILL) }
        let base = try #require(Self.listeningURL(try await process.waitForOutput(containing: "listening on http://")))
        #expect(try await Self.waitForStatus(200, at: "\(base)/readyz") == 200)
        let created = try await folio(["tokens", "create", "--name", "ops", "--role", "editor", "--json"], ["FOLIO_DATABASE_URL": running.url])
        let token = try #require((try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])?["token"] as? String)
        let auth = ["Authorization": "Bearer \(token)"]
        #expect(try await HTTP.get("\(base)/v1/events", headers: auth).status == 200)

        // The test cluster commits asynchronously (not durable): flush before the crash, or
        // the last second of commits (the migrations, the token) is legitimately lost.
        try Connection(configuration: TestPostgres.configuration(running.url)).execute("CHECKPOINT")
        try cluster.kill()
        // Every endpoint that needs the database answers 503 with Retry-After.
        let sync = try await HTTP.get("\(base)/v1/events", headers: auth)
        #expect(sync.status == 503, "\(sync.text)")
        #expect(sync.headers["retry-after"] != nil)
        let append = try await HTTP.post("\(base)/v1/events", json: ["events": [[
            "id": UUID().uuidString, "type": "ArticleCreated",
            "data": ["articleId": UUID().uuidString, "slug": "x", "title": "शीर्षक", "language": "hi", "text": "पाठ"],
        ]]], headers: auth)
        #expect(append.status == 503, "\(append.text)")
        #expect(append.headers["retry-after"] != nil)
        #expect((try append.json()["error"] as? [String: Any])?["code"] as? String == "database-unavailable")
        let down = try await HTTP.get("\(base)/readyz")
        #expect(down.status == 503)
        #expect(down.headers["retry-after"] == "5")
        #expect((try down.json()["error"] as? [String: Any])?["code"] as? String == "database-unavailable")
        #expect(try await HTTP.get("\(base)/healthz").status == 200)

        try cluster.restart(onPort: running.port)
        let back = try await Self.waitForStatus(200, at: "\(base)/readyz")
        let answer = try await HTTP.get("\(base)/readyz").text
        #expect(back == 200, "\(answer)")
        try cluster.stop()
    }

    @Test func serveStartsAndReusesAnEmbeddedCluster() async throws {
        let directory = TestPostgres.baseDirectory.appendingPathComponent("embedded-\(UUID().uuidString.prefix(6))")
        for round in 1...2 {
            let process = try ChildProcess(
                Repository.folioBinary, ["serve", "--listen", "127.0.0.1:0", "--embedded-dir", directory.path],
                environment: Self.environment())
            let output = try await process.waitForOutput(containing: "listening on http://", timeout: .seconds(120))
            #expect(output.contains("embedded PostgreSQL on 127.0.0.1:"))
            let base = try #require(Self.listeningURL(output))
            let ready = try await HTTP.get("\(base)/readyz")
            #expect(ready.status == 200, "round \(round): \(ready.text)")
            process.send(SIGTERM)
            let outcome = try await process.wait(timeout: .seconds(60))
            #expect(outcome.status == 0, "\(outcome.stderr)")
            #expect(outcome.stdout.contains("embedded PostgreSQL stopped"))
            // The first round creates the cluster; the second reuses it.
            #expect(outcome.stderr.contains("created a PostgreSQL cluster") == (round == 1))
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("data/postmaster.pid").path))
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// G6 told loudly: after transaction ids go backwards (simulated here by a logged
    /// transaction id far ahead of the server's), `folio serve` begins a new epoch and says so
    /// in its log, `/readyz` and `/metrics`; `folio store status` lists both epochs.
    @Test func newEpochIsReportedByServeReadinessMetricsAndStoreStatus() async throws {
        let url = try await TestPostgres.freshDatabase("epoch")
        let env = ["FOLIO_DATABASE_URL": url]
        #expect(try await folio(["migrate", "up"], env).status == 0)
        let first = try await folio(["store", "status", "--json"], env)
        #expect(first.status == 0, "\(first.stderr)")
        let firstJSON = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
        #expect(firstJSON["epoch"] as? Int == 1)
        #expect((firstJSON["epochs"] as? [Any])?.count == 1)
        #expect(firstJSON["beganNewEpochAtStart"] as? Bool == false)

        let admin = try Connection(configuration: TestPostgres.configuration(url))
        try admin.execute("""
            INSERT INTO events (epoch, stream_id, stream_revision, event_id, event_type, data, transaction_id)
            VALUES (1, 'article-3f1c2f4e-0d5e-4a57-9b1e-8c0f6a9d2b11', 1, gen_random_uuid(), 'ArticleArchived',
                    '{"articleId": "3f1c2f4e-0d5e-4a57-9b1e-8c0f6a9d2b11"}',
                    (pg_current_xact_id()::text::bigint + 1000000)::text::xid8)
            """)

        let process = try ChildProcess(
            Repository.folioBinary, ["serve", "--listen", "127.0.0.1:0"], environment: Self.environment(env))
        defer { process.send(SIGKILL) }
        let base = try #require(Self.listeningURL(try await process.waitForOutput(containing: "listening on http://")))
        #expect(try await Self.waitForStatus(200, at: "\(base)/readyz") == 200)
        let ready = try await HTTP.get("\(base)/readyz").json()
        #expect(ready["epoch"] as? Int == 2)
        #expect(ready["newEpochAtStart"] as? Bool == true)
        #expect((ready["epochReason"] as? String)?.contains("went backwards") == true)
        let metrics = try await HTTP.get("\(base)/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
        // Samples by name (Prometheus' text format: `name value`, after # HELP / # TYPE lines).
        var samples: [String: Double] = [:]
        for line in metrics.text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { samples[String(parts[0])] = value }
        }
        let expected: [String: Double] = [
            "folio_store_epoch": 2, "folio_store_epochs": 2, "folio_store_new_epoch_at_start": 1, "folio_database_up": 1,
            "folio_store_events": 1,
        ]
        for (name, value) in expected {
            #expect(samples[name] == value, "\(name) in\n\(metrics.text)")
        }
        #expect(metrics.text.contains("# HELP folio_db_oldest_transaction_age_seconds"))
        process.send(SIGTERM)
        let outcome = try await process.wait(timeout: .seconds(30))
        #expect(outcome.status == 0)
        #expect(outcome.stderr.contains("NEW EPOCH"))

        let second = try await folio(["store", "status"], env)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("epoch            2  (the database was restored 1 time(s)"))
        #expect(!second.stdout.contains("NEW EPOCH began now"))
    }

    @Test func tokensCreateListRevokeWithExitCodes() async throws {
        let url = try await TestPostgres.freshDatabase("tokens_cli")
        let env = ["FOLIO_DATABASE_URL": url]
        #expect(try await folio(["migrate", "up"], env).status == 0)
        let created = try await folio(["tokens", "create", "--name", "anita-desk", "--role", "annotator", "--json"], env)
        #expect(created.status == 0, "\(created.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])
        #expect(json["name"] as? String == "anita-desk")
        #expect(json["role"] as? String == "annotator")
        let token = try #require(json["token"] as? String)
        #expect(token.hasPrefix("folio_"))
        // Plain output: the token alone on stdout, the notice on stderr.
        let plain = try await folio(["tokens", "create", "--name", "ci-bot", "--role", "reader"], env)
        #expect(plain.stdout.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("folio_"))
        #expect(plain.stderr.contains("not shown again"))

        let list = try await folio(["tokens", "list", "--json"], env)
        #expect(list.status == 0)
        #expect(!list.stdout.contains(token))
        let names = ((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["tokens"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(names == ["anita-desk", "ci-bot"])

        #expect(try await folio(["tokens", "create", "--name", "x", "--role", "owner"], env).status == 64)
        let taken = try await folio(["tokens", "create", "--name", "anita-desk", "--role", "reader"], env)
        #expect(taken.status == 65)
        #expect(taken.stderr.contains("revoke it first"))
        #expect(try await folio(["tokens", "create", "--name", "bad name", "--role", "reader"], env).status == 65)
        #expect(try await folio(["tokens", "revoke", "anita-desk"], env).status == 0)
        #expect(try await folio(["tokens", "revoke", "anita-desk"], env).status == 65)
        let after = try await folio(["tokens", "list"], env)
        #expect(!after.stdout.contains("anita-desk"))
        #expect(try await folio(["tokens", "list", "--all"], env).stdout.contains("revoked"))
    }

    @Test func badListenAddressIsAUsageError() async throws {
        let outcome = try await folio(["serve", "--listen", "localhost"])
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains("host:port"))
    }

    /// Polls `url` until it answers `status` (or a generous time passed); returns the last status seen.
    static func waitForStatus(_ status: Int, at url: String) async throws -> Int {
        var last = 0
        try await Eventually.poll(every: .milliseconds(200)) {
            last = try await HTTP.get(url).status
            return last == status
        }
        return last
    }

    static func listeningURL(_ output: String) -> String? {
        guard let range = output.range(of: "listening on ") else { return nil }
        return output[range.upperBound...].split(separator: "\n").first.map(String.init)
    }
}

/// The embedded PostgreSQL component on its own.
@Suite("Embedded PostgreSQL")
struct EmbeddedPostgresTests {
    @Test func saysWhatIsMissingWhenPostgreSQLIsNotInstalled() throws {
        let error = try #require(throws: EmbeddedPostgresError.self) {
            try PostgresInstallation.locate(path: "/nonexistent/bin", libraryRoots: ["/nonexistent/lib/postgresql"])
        }
        #expect(error.description.contains("apt-get install -y postgresql"))
        #expect(error.description.contains("FOLIO_DATABASE_URL"))
        #expect(error.description.contains("/nonexistent/bin"))
    }

    @Test func findsDebianLayoutWithoutPATH() throws {
        let installation = try PostgresInstallation.locate(path: "")
        #expect(installation.binDirectory.path.hasPrefix("/usr/lib/postgresql/"))
        #expect(FileManager.default.isExecutableFile(atPath: installation.initdb.path))
    }

    @Test(.enabled(if: geteuid() == 0, "only root hands the cluster to another user"))
    func unreachableFolderIsExplainedWhenRunningAsRoot() async throws {
        let locked = TestPostgres.baseDirectory.appendingPathComponent("locked-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: true)
        chmod(locked.path, 0o700)
        defer { try? FileManager.default.removeItem(at: locked) }
        let cluster = try EmbeddedPostgres(directory: locked.appendingPathComponent("pg"))
        let error = await #expect(throws: EmbeddedPostgresError.self) { try await cluster.start() }
        #expect(error?.description.contains("cannot enter \(locked.path)") == true)
    }

    @Test func startIsReusedAndStopIsClean() async throws {
        let cluster = try TestPostgres.privateCluster("reuse")
        let first = try await cluster.start()
        #expect(first.startedHere)
        let second = try await cluster.start()
        #expect(!second.startedHere)
        #expect(second.port == first.port)
        let connection = try Connection(configuration: TestPostgres.configuration(second.url))
        #expect(try connection.query("SELECT current_database()").scalar(String.self) == "folio")
        #expect(try connection.query("SELECT setting FROM pg_settings WHERE name = 'listen_addresses'").scalar(String.self) == "127.0.0.1")
        if geteuid() == 0 {
            // initdb refuses root: the cluster belongs to an unprivileged user.
            let owner = try FileManager.default.attributesOfItem(atPath: cluster.dataDirectory.path)[.ownerAccountName] as? String
            #expect(owner != "root")
        }
        try cluster.stop()
        #expect(cluster.runningPort() == nil)
        // Starting again after a stop keeps the data.
        let third = try await cluster.start()
        #expect(third.startedHere)
        try cluster.stop()
    }
}

/// docker-compose.yml stays valid for Debian's docker-compose (v1), when it is installed.
@Suite("Compose file")
struct ComposeFileTests {
    static var composeAvailable: Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/docker-compose")
        }
    }

    @Test(.enabled(if: composeAvailable, "docker-compose is not installed"))
    func composeFileValidates() async throws {
        let outcome = try await ChildProcess.run(
            URL(fileURLWithPath: "/bin/bash"), [Repository.root.appendingPathComponent("scripts/check-compose.sh").path],
            environment: ProcessInfo.processInfo.environment)
        #expect(outcome.status == 0, "\(outcome.stdout)\(outcome.stderr)")
    }
}
