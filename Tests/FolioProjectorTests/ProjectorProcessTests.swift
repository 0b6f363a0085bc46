import FolioCore
import FolioProjector
import FolioStore
import FolioTestSupport
import Foundation
import LibPQ
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real `folio projections run` process: kill -9 in the middle of a batch, standby
/// takeover, and the admin commands.
@Suite("projector processes", .serialized)
struct ProjectorProcessTests {
    static func environment(_ url: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FOLIO_") }
        environment["FOLIO_LOG_LEVEL"] = "warning"
        environment["FOLIO_MIGRATIONS_DIR"] = Repository.migrations.path
        environment["FOLIO_DATABASE_URL"] = url
        return environment
    }

    func start(_ url: String, _ arguments: [String] = []) throws -> ChildProcess {
        try ChildProcess(Repository.folioBinary, ["projections", "run"] + arguments, environment: Self.environment(url))
    }

    @Test func killDashNineInTheMiddleOfABatchThenRestartEqualsACleanRebuild() async throws {
        let fixture = try await ProjectorFixture.make("kill")
        defer { Task { await fixture.close() } }
        var log = RandomLog(seed: 31)
        try await fixture.store.appendInChunks(try log.events(300), seed: 2)
        try await fixture.projector().rebuild()
        try await fixture.store.appendInChunks(try log.events(2500), seed: 4)

        let first = try start(fixture.url, ["--batch-size", "200", "--pause-before-commit-ms", "300"])
        defer { first.send(SIGKILL) }
        try await first.waitForOutput(containing: "projector active", timeout: .seconds(60))
        // The second batch's rows are written and its transaction is open: kill now.
        let deadline = ContinuousClock.now + .seconds(60)
        while first.stdout.components(separatedBy: "written, committing").count < 3 {
            guard ContinuousClock.now < deadline else { throw FixtureError.timedOut("a second batch") }
            try await Task.sleep(for: .milliseconds(10))
        }
        first.send(SIGKILL)
        _ = try await first.wait(timeout: .seconds(30))
        let status = try #require(try await Projector.status(pool: fixture.pool).first)
        #expect(status.events >= 300 && status.events < 2800, "\(status)")
        #expect(status.events % 200 == 100, "only whole batches are applied: \(status)")

        let second = try start(fixture.url)
        defer { second.send(SIGKILL) }
        try await second.waitForOutput(containing: "projector active", timeout: .seconds(60))
        try await fixture.waitUntilCaughtUp()
        second.send(SIGTERM)
        let outcome = try await second.wait(timeout: .seconds(30))
        #expect(outcome.status == 0, "\(outcome.stderr)")

        let resumed = try await fixture.dump()
        try await fixture.projector().rebuild()
        let clean = try await fixture.dump()
        #expect(resumed.count == clean.count)
        #expect(resumed == clean)
    }

    @Test func standbyTakesOverWhenTheActiveProjectorIsKilled() async throws {
        let fixture = try await ProjectorFixture.make("standby")
        defer { Task { await fixture.close() } }
        var log = RandomLog(seed: 41)
        try await fixture.store.appendInChunks(try log.events(200), seed: 2)
        let a = try start(fixture.url)
        defer { a.send(SIGKILL) }
        try await a.waitForOutput(containing: "projector active", timeout: .seconds(60))
        let b = try start(fixture.url)
        defer { b.send(SIGKILL) }
        try await b.waitForOutput(containing: "projector standby", timeout: .seconds(60))
        try await fixture.waitUntilCaughtUp()
        // b stays a standby while a lives.
        try await Task.sleep(for: .seconds(1))
        #expect(!b.stdout.contains("projector active"))
        let status = try #require(try await Projector.status(pool: fixture.pool).first)
        #expect(status.state == .active)

        a.send(SIGKILL)
        _ = try await a.wait(timeout: .seconds(30))
        try await b.waitForOutput(containing: "projector active", timeout: .seconds(30))
        try await fixture.store.appendInChunks(try log.events(200), seed: 3)
        try await fixture.waitUntilCaughtUp()
        for (id, expected) in log.histories {
            #expect(try await fixture.readModels.article(id: id)?.revision == expected.revision)
        }
        b.send(SIGTERM)
        _ = try await b.wait(timeout: .seconds(30))
    }

    @Test func statusAndRebuildCommands() async throws {
        let fixture = try await ProjectorFixture.make("cmd")
        defer { Task { await fixture.close() } }
        var log = RandomLog(seed: 51)
        try await fixture.store.appendInChunks(try log.events(500), seed: 2)
        let environment = Self.environment(fixture.url)

        let before = try await ChildProcess.run(Repository.folioBinary, ["projections", "status", "--json"], environment: environment)
        #expect(before.status == 0, "\(before.stderr)")
        let beforeJSON = try JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [String: Any]
        let first = (beforeJSON?["projections"] as? [[String: Any]])?.first
        #expect(first?["state"] as? String == "stopped")
        #expect(first?["lagEvents"] as? Int == 500)

        let rebuild = try await ChildProcess.run(Repository.folioBinary, ["projections", "rebuild", "articles"], environment: environment)
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        #expect(rebuild.stdout.contains("rebuilt articles"))
        let json = try await ChildProcess.run(Repository.folioBinary, ["projections", "rebuild", "--json"], environment: environment)
        #expect(json.status == 0, "\(json.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(report?["events"] as? Int == 500)

        let after = try await ChildProcess.run(Repository.folioBinary, ["projections", "status"], environment: environment)
        #expect(after.status == 0)
        #expect(after.stdout.contains("0 events"), "\(after.stdout)")

        let unknown = try await ChildProcess.run(Repository.folioBinary, ["projections", "rebuild", "nope"], environment: environment)
        #expect(unknown.status == 64)
    }
}
