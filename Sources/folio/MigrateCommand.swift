import ArgumentParser
import FolioStore
import Foundation
import LibPQ

/// `folio migrate up [--to N] | status | verify`.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply and check database migrations.",
        discussion: """
            Migrations are the numbered SQL files NNNN_name.sql of the migrations folder, read at \
            run time. Each runs once, in its own transaction; an advisory lock makes concurrent \
            runners wait for each other. `verify` exits 65 when an applied file changed or \
            disappeared, and `up` refuses to run until that is resolved.
            """,
        subcommands: [Up.self, Status.self, Verify.self])

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending migrations.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Apply up to and including this version.") var to: Int?
        @Flag(help: "Print one JSON document.") var json = false

        func run() async throws {
            try await withMigrator(database) { migrator in
                let applied = try await migrator.up(to: to)
                if json {
                    printJSON(["applied": applied.map { MigrationJSON(version: $0.version, name: $0.name, state: "applied") }])
                } else if applied.isEmpty {
                    say("Nothing to apply: the database is up to date.")
                } else {
                    for migration in applied { say("applied \(migration.fileName)") }
                }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List migrations and whether each is applied.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print one JSON document.") var json = false

        func run() async throws {
            try await withMigrator(database) { migrator in
                let report = try await migrator.status()
                printReport(report, json: json)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check that applied migrations match their files (exit 65 if not).")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print one JSON document.") var json = false

        func run() async throws {
            try await withMigrator(database) { migrator in
                let report = try await migrator.status()
                printReport(report, json: json)
                if !report.problems.isEmpty {
                    throw MigrationError.verificationFailed(report.problems)
                }
            }
        }
    }
}

struct MigrationJSON: Encodable {
    var version: Int
    var name: String
    var state: String
    var appliedAt: Date?
    var durationMs: Double?
    var checksum: String?
}

private struct ReportJSON: Encodable {
    var migrations: [MigrationJSON]
    var current: Bool
    var pending: Int
    var problems: Int
}

private func printReport(_ report: MigrationReport, json: Bool) {
    if json {
        let entries = report.entries.map { entry -> MigrationJSON in
            var item = MigrationJSON(version: entry.version, name: entry.name, state: entry.state.name)
            switch entry.state {
            case .applied(let at, let duration, let checksum):
                item.appliedAt = at
                item.durationMs = duration
                item.checksum = checksum
            case .changed(let applied, _), .missing(let applied):
                item.checksum = applied
            case .pending:
                break
            }
            return item
        }
        printJSON(ReportJSON(migrations: entries, current: report.isCurrent, pending: report.pending.count, problems: report.problems.count))
        return
    }
    let formatter = ISO8601DateFormatter()
    for entry in report.entries {
        var line = String(format: "%04d  %-32@ ", entry.version, entry.name)
        line = String(format: "%04d", entry.version) + "  " + entry.name.padding(toLength: max(32, entry.name.count), withPad: " ", startingAt: 0) + "  "
        switch entry.state {
        case .applied(let at, let duration, _):
            line += "applied \(formatter.string(from: at)) (\(String(format: "%.1f", duration)) ms)"
        default:
            line += entry.state.summary
        }
        say(line)
    }
    if report.entries.isEmpty { say("No migrations found.") }
}

/// Opens a small pool for an admin command, runs `body`, closes it; errors become exit codes.
private func withMigrator(_ options: DatabaseOptions, _ body: (Migrator) async throws -> Void) async throws {
    try await withDatabase(options) { pool in
        try await body(Migrator(pool: pool, migrations: try options.loadMigrations()))
    }
}
