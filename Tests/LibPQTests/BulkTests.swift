import Foundation
import FolioTestSupport
import LibPQ
import Testing

/// Pipelines and COPY: the bulk paths.
@Suite("Bulk")
struct BulkTests {
    func connect() async throws -> Connection {
        try Connection(configuration: TestPostgres.configuration(try await TestPostgres.freshDatabase("bulk")))
    }

    @Test func pipelineOfAThousandStatements() async throws {
        let connection = try await connect()
        try connection.execute("CREATE TABLE rows (n int8 PRIMARY KEY, label text)")
        let queries: [PostgresQuery] = (1...1000).map { n in "INSERT INTO rows VALUES (\(n), \("पंक्ति \(n)"))" }
        let results = try connection.pipeline(queries)
        #expect(results.count == 1000)
        #expect(results.allSatisfy { $0.affectedRows == 1 })
        #expect(try connection.query("SELECT count(*), sum(n) FROM rows")[0].decode(Int.self, at: 1) == 500_500)
        // Prepared statement pipelined with many bindings, returning rows.
        let select = try connection.prepare("SELECT label FROM rows WHERE n = $1")
        let bindings = (1...1000).map { n -> PostgresBindings in
            var binds = PostgresBindings()
            binds.append(n)
            return binds
        }
        let labels = try connection.pipeline(select, bindings: bindings).map { try $0.scalar(String.self) }
        #expect(labels.first == "पंक्ति 1")
        #expect(labels.last == "पंक्ति 1000")
        #expect(connection.transactionStatus == .idle)
    }

    @Test func failingPipelineStoresNothing() async throws {
        let connection = try await connect()
        try connection.execute("CREATE TABLE rows (n int8 PRIMARY KEY)")
        var queries: [PostgresQuery] = (1...500).map { "INSERT INTO rows VALUES (\($0))" }
        queries.insert("INSERT INTO rows VALUES (\(250))", at: 300)  // duplicate key in the middle
        let error = try #require(throws: PostgresError.self) { try connection.pipeline(queries) }
        #expect(error.sqlState == "23505")
        #expect(try connection.query("SELECT count(*) FROM rows").scalar(Int.self) == 0)
        // The connection is usable, and out of pipeline mode, afterwards.
        try connection.pipeline([PostgresQuery(stringLiteral: "INSERT INTO rows VALUES (1)")])
        #expect(try connection.query("SELECT count(*) FROM rows").scalar(Int.self) == 1)
    }

    @Test func failedPipelineClosesTheTransactionItOpened() async throws {
        let connection = try await connect()
        try connection.execute("CREATE TABLE rows (n int8 PRIMARY KEY)")
        let error = try #require(throws: PostgresError.self) {
            try connection.pipeline(["BEGIN", "INSERT INTO rows VALUES (1)", "INSERT INTO rows VALUES (1)", "COMMIT"])
        }
        #expect(error.sqlState == "23505")
        #expect(connection.transactionStatus == .idle)
        try connection.pipeline(["BEGIN", "INSERT INTO rows VALUES (2)", "COMMIT"])
        #expect(try connection.query("SELECT array_agg(n)::text FROM rows").scalar(String.self) == "{2}")
        // A transaction the caller opened stays the caller's to end.
        try connection.execute("BEGIN")
        #expect(throws: PostgresError.self) { try connection.pipeline(["SELECT 1/0"]) }
        #expect(connection.transactionStatus == .failedTransaction)
        try connection.execute("ROLLBACK")
    }

    @Test func copyInAndOutOfAHundredThousandRows() async throws {
        let connection = try await connect()
        try connection.execute("CREATE TABLE copied (n int8 PRIMARY KEY, body text, note text)")
        let count = 100_000
        func body(_ n: Int) -> String { "पंक्ति \(n)\twith tab\nnewline \\ backslash क़ ✅" }
        let copied = try connection.copyIn("COPY copied (n, body, note) FROM STDIN") { writer in
            for n in 1...count {
                try writer.writeRow([String(n), body(n), n % 10 == 0 ? nil : "note"])
            }
        }
        #expect(copied == count)
        #expect(try connection.query("SELECT body FROM copied WHERE n = 77").scalar(String.self) == body(77))
        #expect(try connection.query("SELECT count(*) FROM copied WHERE note IS NULL").scalar(Int.self) == count / 10)

        var seen = 0
        var sum = 0
        var mismatches = 0
        let rows = try connection.copyOut("COPY (SELECT n, body, note FROM copied ORDER BY n) TO STDOUT") { bytes in
            let fields = CopyText.parseRow(bytes)
            let n = Int(fields[0]!)!
            seen += 1
            sum += n
            if fields[1] != body(n) || (fields[2] == nil) != (n % 10 == 0) { mismatches += 1 }
        }
        #expect(rows == count)
        #expect(seen == count)
        #expect(sum == count * (count + 1) / 2)
        #expect(mismatches == 0)
    }

    @Test func abortedCopyStoresNothing() async throws {
        let connection = try await connect()
        try connection.execute("CREATE TABLE copied (n int8)")
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try connection.copyIn("COPY copied FROM STDIN") { writer in
                for n in 1...1000 { try writer.writeRow([String(n)]) }
                throw Stop()
            }
        }
        #expect(try connection.query("SELECT count(*) FROM copied").scalar(Int.self) == 0)
        // Bad data: the server's error comes back, nothing stored, connection still fine.
        let error = try #require(throws: PostgresError.self) {
            try connection.copyIn("COPY copied FROM STDIN") { writer in
                try writer.writeRow(["1"])
                try writer.writeRow(["not a number"])
            }
        }
        #expect(error.sqlState == "22P02")
        #expect(try connection.query("SELECT count(*) FROM copied").scalar(Int.self) == 0)
    }

    @Test func copyThroughPlainQueryIsRefusedCleanly() async throws {
        let connection = try await connect()
        try connection.execute("CREATE TABLE t (n int)")
        #expect(throws: PostgresError.self) { try connection.execute("COPY t TO STDOUT") }
        #expect(try connection.query("SELECT 2").scalar(Int.self) == 2)
    }
}
