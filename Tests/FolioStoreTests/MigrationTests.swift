import FolioStore
import FolioTestSupport
import Foundation
import LibPQ
import Testing

/// Migrations against a real PostgreSQL: apply, re-run, race, verify.
@Suite("Migrations")
struct MigrationTests {
    func freshPool(_ label: String = "mig") async throws -> ConnectionPool {
        let url = try await TestPostgres.freshDatabase(label)
        return ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 4))
    }

    @Test func loadsTheRepositoryMigrationsInOrder() throws {
        let migrations = try MigrationSource.load(from: Repository.migrations)
        #expect(migrations.count >= 2)
        #expect(migrations.map(\.version) == migrations.map(\.version).sorted())
        #expect(migrations[0].version == 1)
        #expect(migrations.allSatisfy { $0.checksum.count == 64 && $0.runsInTransaction })
    }

    @Test func freshApplyThenIdempotentRerun() async throws {
        let pool = try await freshPool()
        let migrations = try MigrationSource.load(from: Repository.migrations)
        let migrator = Migrator(pool: pool, migrations: migrations)
        let before = try await migrator.status()
        #expect(before.pending.count == migrations.count)
        let applied = try await migrator.up()
        #expect(applied.map(\.version) == migrations.map(\.version))
        let after = try await migrator.status()
        #expect(after.isCurrent)
        #expect(try await migrator.up().isEmpty)
        let rows = try await pool.query("SELECT version, name, checksum, duration_ms >= 0 FROM folio_schema_migrations ORDER BY version")
        #expect(rows.count == migrations.count)
        for (row, migration) in zip(rows, migrations) {
            #expect(try row.decode(Int.self, at: 0) == migration.version)
            #expect(try row.decode(String.self, at: 1) == migration.name)
            #expect(try row.decode(String.self, at: 2) == migration.checksum)
            #expect(try row.decode(Bool.self, at: 3))
        }
        #expect(try await pool.query("SELECT to_regclass('events') IS NOT NULL").scalar(Bool.self))
        await pool.close()
    }

    @Test func upToAVersionStopsThere() async throws {
        let pool = try await freshPool()
        let migrator = Migrator(pool: pool, migrations: try MigrationSource.load(from: Repository.migrations))
        #expect(try await migrator.up(to: 1).map(\.version) == [1])
        #expect(try await migrator.status().pending.first?.version == 2)
        #expect(try await pool.query("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'events'::regclass AND NOT tgisinternal").scalar(Int.self) == 0)
        try await migrator.up()
        #expect(try await migrator.status().isCurrent)
        await pool.close()
    }

    @Test func concurrentRunnersApplyEachMigrationOnce() async throws {
        let url = try await TestPostgres.freshDatabase("race")
        let migrations = try MigrationSource.load(from: Repository.migrations)
        // Three runners, each with its own pool, as three servers starting at once would.
        let appliedCounts = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let pool = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 1))
                    let applied = try await Migrator(pool: pool, migrations: migrations).up()
                    await pool.close()
                    return applied.count
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(appliedCounts.reduce(0, +) == migrations.count)
        let pool = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 1))
        #expect(try await pool.query("SELECT count(*) FROM folio_schema_migrations").scalar(Int.self) == migrations.count)
        await pool.close()
    }

    @Test func verifyCatchesAChangedOrMissingFileAndUpRefuses() async throws {
        let pool = try await freshPool()
        let folder = try Repository.copyOfMigrations()
        defer { try? FileManager.default.removeItem(at: folder) }
        try await Migrator(pool: pool, migrations: try MigrationSource.load(from: folder)).up()

        // Someone edits an applied migration.
        let first = folder.appendingPathComponent("0001_event_log.sql")
        try (try String(contentsOf: first, encoding: .utf8) + "\n-- an innocent-looking edit\n").write(to: first, atomically: true, encoding: .utf8)
        let changed = Migrator(pool: pool, migrations: try MigrationSource.load(from: folder))
        let error = await #expect(throws: MigrationError.self) { try await changed.verify() }
        guard case .verificationFailed(let entries)? = error else {
            Issue.record("expected verificationFailed, got \(String(describing: error))")
            return
        }
        #expect(entries.map(\.version) == [1])
        #expect(entries.first?.state.name == "changed")
        await #expect(throws: MigrationError.self) { try await changed.up() }

        // Someone deletes one instead.
        try FileManager.default.removeItem(at: first)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("0002_append_only.sql"))
        let missing = try await Migrator(pool: pool, migrations: try MigrationSource.load(from: folder)).status()
        #expect(missing.problems.map(\.state.name) == ["missing", "missing"])
        await pool.close()
    }

    @Test func failedMigrationRollsBackAndIsNotRecorded() async throws {
        let pool = try await freshPool()
        let folder = try Repository.copyOfMigrations()
        defer { try? FileManager.default.removeItem(at: folder) }
        try """
            CREATE TABLE half_done (n int);
            INSERT INTO half_done VALUES (1);
            SELECT no_such_function();
            """.write(to: folder.appendingPathComponent("0900_broken.sql"), atomically: true, encoding: .utf8)
        let migrator = Migrator(pool: pool, migrations: try MigrationSource.load(from: folder))
        let error = await #expect(throws: MigrationError.self) { try await migrator.up() }
        guard case .failed(let version, _, let underlying)? = error else {
            Issue.record("expected failed, got \(String(describing: error))")
            return
        }
        #expect(version == 900)
        #expect((underlying as? PostgresError)?.sqlState == "42883")
        // The migrations before it stay applied; the broken one left nothing behind.
        let report = try await migrator.status()
        #expect(report.pending.map(\.version) == [900])
        #expect(try await pool.query("SELECT to_regclass('half_done') IS NULL").scalar(Bool.self))
        await pool.close()
    }

    @Test func pendingMigrationBelowAnAppliedOneIsRefused() async throws {
        let pool = try await freshPool()
        let folder = try Repository.copyOfMigrations()
        defer { try? FileManager.default.removeItem(at: folder) }
        try "SELECT 1;".write(to: folder.appendingPathComponent("0950_late.sql"), atomically: true, encoding: .utf8)
        try await Migrator(pool: pool, migrations: try MigrationSource.load(from: folder)).up()
        try "SELECT 2;".write(to: folder.appendingPathComponent("0940_forgotten.sql"), atomically: true, encoding: .utf8)
        let error = await #expect(throws: MigrationError.self) {
            try await Migrator(pool: pool, migrations: try MigrationSource.load(from: folder)).up()
        }
        guard case .outOfOrder(let pending, let latest)? = error else {
            Issue.record("expected outOfOrder, got \(String(describing: error))")
            return
        }
        #expect(pending == 940 && latest == 950)
        await pool.close()
    }

    @Test func badFileNamesAndDuplicateVersionsAreRejected() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("folio-bad-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "SELECT 1;".write(to: folder.appendingPathComponent("create_things.sql"), atomically: true, encoding: .utf8)
        #expect(throws: MigrationError.self) { try MigrationSource.load(from: folder) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("create_things.sql"))
        try "SELECT 1;".write(to: folder.appendingPathComponent("0001_a.sql"), atomically: true, encoding: .utf8)
        try "SELECT 1;".write(to: folder.appendingPathComponent("001_b.sql"), atomically: true, encoding: .utf8)
        #expect(throws: MigrationError.self) { try MigrationSource.load(from: folder) }
        #expect(throws: MigrationError.self) { try MigrationSource.load(from: folder.appendingPathComponent("nope")) }
    }

    @Test func noTransactionDirectiveIsHonoured() throws {
        let plain = try Migration(version: 1, name: "a", fileName: "0001_a.sql", contents: Data("CREATE TABLE a ();".utf8))
        let concurrent = try Migration(
            version: 2, name: "b", fileName: "0002_b.sql",
            contents: Data("-- folio:no-transaction\nCREATE INDEX CONCURRENTLY b ON a ((1));".utf8))
        #expect(plain.runsInTransaction)
        #expect(!concurrent.runsInTransaction)
        #expect(throws: MigrationError.self) {
            try Migration(version: 3, name: "c", fileName: "0003_c.sql", contents: Data([0xff, 0xfe, 0x00]))
        }
    }
}

/// Guarantee G1, enforced by the database.
@Suite("Append-only log")
struct AppendOnlyTests {
    func migrated(_ url: String) async throws -> ConnectionPool {
        let pool = ConnectionPool(configuration: .init(connection: TestPostgres.configuration(url), maxConnections: 2))
        try await Migrator(pool: pool, migrations: try MigrationSource.load(from: Repository.migrations)).up()
        return pool
    }

    static let insertEvent: PostgresQuery = """
        INSERT INTO events (stream_id, stream_revision, event_id, event_type, data, article_id)
        VALUES ('article-8c1d4f5e-0000-4000-8000-000000000001', 1, gen_random_uuid(), 'ArticleCreated',
                '{"title": "दिल्ली में बारिश"}', '8c1d4f5e-0000-4000-8000-000000000001')
        """

    @Test func serviceRoleMayOnlyInsertAndSelect() async throws {
        let url = try await TestPostgres.freshDatabase("g1")
        let admin = try await migrated(url)
        let service = ConnectionPool(configuration: .init(
            connection: TestPostgres.configuration(url), maxConnections: 1,
            onConnect: { try ServiceRole.assume($0) }))
        #expect(try await service.query("SELECT current_user").scalar(String.self) == ServiceRole.name)
        try await service.query(Self.insertEvent)
        #expect(try await service.query("SELECT count(*) FROM events").scalar(Int.self) == 1)
        for statement in ["UPDATE events SET data = '{}'", "DELETE FROM events", "TRUNCATE events"] {
            let error = await #expect(throws: PostgresError.self) { try await service.execute(statement) }
            #expect(error?.sqlState == "42501", "\(statement) should be refused by privileges")
        }
        #expect(try await admin.query("SELECT count(*) FROM events").scalar(Int.self) == 1)
        await service.close()
        await admin.close()
    }

    @Test func triggerRefusesChangesEvenForTheOwner() async throws {
        let url = try await TestPostgres.freshDatabase("g1owner")
        let admin = try await migrated(url)
        // Refused on an empty table too: the trigger is per statement.
        for statement in ["UPDATE events SET data = '{}'", "DELETE FROM events", "TRUNCATE events"] {
            let error = await #expect(throws: PostgresError.self) { try await admin.execute(statement) }
            #expect(error?.sqlState == "FO001", "\(statement) should be refused by the trigger")
        }
        try await admin.query(Self.insertEvent)
        for statement in ["UPDATE events SET data = '{}'", "DELETE FROM events WHERE true", "TRUNCATE events"] {
            let error = await #expect(throws: PostgresError.self) { try await admin.execute(statement) }
            #expect(error?.sqlState == "FO001")
            #expect(error?.description.contains("append-only") == true)
        }
        let data = try await admin.query("SELECT data->>'title' FROM events").scalar(String.self)
        #expect(data == "दिल्ली में बारिश")
        await admin.close()
    }

    @Test func twoDatabasesShareTheClusterWideRole() async throws {
        let first = try await migrated(try await TestPostgres.freshDatabase("share"))
        let secondURL = try await TestPostgres.freshDatabase("share")
        let second = try await migrated(secondURL)
        let service = ConnectionPool(configuration: .init(
            connection: TestPostgres.configuration(secondURL), maxConnections: 1,
            onConnect: { try ServiceRole.assume($0) }))
        try await service.query(Self.insertEvent)
        #expect(try await service.query("SELECT has_database_privilege('folio_service', current_database(), 'CONNECT')").scalar(Bool.self))
        await service.close()
        await first.close()
        await second.close()
    }
}
