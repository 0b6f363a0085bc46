import Foundation
import FolioTestSupport
import LibPQ
import Testing

/// The blocking `Connection`: connecting, statements, typed decoding and errors.
@Suite("Connection")
struct ConnectionTests {
    func connect() async throws -> Connection {
        try Connection(configuration: TestPostgres.configuration(try await TestPostgres.freshDatabase("conn")))
    }

    @Test func uuidsAreSentAsLowerCaseText() {
        let id = UUID(uuidString: "0A1B2C3D-4E5F-6A7B-8C9D-AEBFC0D1E2F3")!
        #expect(id.postgresArrayText == "0a1b2c3d-4e5f-6a7b-8c9d-aebfc0d1e2f3")
        for _ in 0..<100 {
            let random = UUID()
            #expect(random.postgresArrayText == random.uuidString.lowercased())
        }
    }

    @Test func decodesEveryType() async throws {
        let connection = try await connect()
        let id = UUID()
        let result = try connection.query("""
            SELECT 42::int4, 9000000000::int8, true, 2.5::float8, 'hello'::text, \(id)::uuid,
                   '2026-01-10 08:00:00.123456+00'::timestamptz, '\\x00ff00'::bytea,
                   '{"b": 1, "a": [true, null]}'::jsonb, NULL::text, NULL::int8
            """)
        let row = result[0]
        #expect(try row.decode(Int.self, at: 0) == 42)
        #expect(try row.decode(Int64.self, at: 1) == 9_000_000_000)
        #expect(try row.decode(Bool.self, at: 2) == true)
        #expect(try row.decode(Double.self, at: 3) == 2.5)
        #expect(try row.decode(String.self, at: 4) == "hello")
        #expect(try row.decode(UUID.self, at: 5) == id)
        let date = try row.decode(Date.self, at: 6)
        #expect(abs(date.timeIntervalSince1970 - 1_768_032_000.123456) < 0.000_001)
        #expect(try row.decode(PostgresBytes.self, at: 7).bytes == [0, 255, 0])
        struct Payload: Codable, Sendable, Equatable {
            var a: [Bool?]
            var b: Int
        }
        #expect(try row.decode(PostgresJSON<Payload>.self, at: 8).value == Payload(a: [true, nil], b: 1))
        #expect(try row.decode(String?.self, at: 9) == nil)
        #expect(try row.decode(Int?.self, at: 10) == nil)
        #expect(row.isNull(at: 9))
        // NULL into a non-optional is an error that names the column.
        #expect(throws: PostgresError.self) { try row.decode(String.self, at: 9) }
        #expect(throws: PostgresError.self) { try row.decode(Int.self, at: 4) }
    }

    @Test func bindsEveryTypeAsParameters() async throws {
        let connection = try await connect()
        let id = UUID()
        let date = Date(timeIntervalSince1970: 1_700_000_000.654321)
        let bytes = PostgresBytes([0, 1, 0, 2, 255, 0])
        let optional: String? = nil
        let row = try connection.query("""
            SELECT \(7)::int8, \(Int64.max), \(false), \(-0.125), \("text"), \(id), \(date), \(bytes),
                   \(PostgresJSON(["k": "v"])), \(optional)::text
            """)[0]
        #expect(try row.decode(Int.self, at: 0) == 7)
        #expect(try row.decode(Int64.self, at: 1) == Int64.max)
        #expect(try row.decode(Bool.self, at: 2) == false)
        #expect(try row.decode(Double.self, at: 3) == -0.125)
        #expect(try row.decode(String.self, at: 4) == "text")
        #expect(try row.decode(UUID.self, at: 5) == id)
        #expect(abs(try row.decode(Date.self, at: 6).timeIntervalSince(date)) < 0.000_001)
        #expect(try row.decode(PostgresBytes.self, at: 7) == bytes)
        #expect(try row.decode(PostgresJSON<[String: String]>.self, at: 8).value == ["k": "v"])
        #expect(try row.decode(String?.self, at: 9) == nil)
    }

    @Test func hindiTextRoundTripsByteForByte() async throws {
        let connection = try await connect()
        try connection.execute("CREATE TABLE texts (id int PRIMARY KEY, body text NOT NULL)")
        // Precomposed nukta letters (U+0958 क़, U+095B ज़, U+0959 ख़) and the same letters
        // decomposed (consonant + U+093C), conjuncts क्ष and त्र, vowel signs, a danda, emoji.
        let precomposed = "\u{0958}\u{095B}\u{0959} क्षत्रिय नमस्ते। किताब 👩🏽‍💻 café"
        let decomposed = "\u{0915}\u{093C}\u{091C}\u{093C}\u{0916}\u{093C} क्षत्रिय नमस्ते। किताब 👩🏽‍💻 cafe\u{0301}"
        try connection.query("INSERT INTO texts VALUES (1, \(precomposed)), (2, \(decomposed))")
        let rows = try connection.query("SELECT body, octet_length(body) FROM texts ORDER BY id")
        #expect(Array(try rows[0].decode(String.self, at: 0).utf8) == Array(precomposed.utf8))
        #expect(Array(try rows[1].decode(String.self, at: 0).utf8) == Array(decomposed.utf8))
        #expect(try rows[0].decode(Int.self, at: 1) == precomposed.utf8.count)
        #expect(try rows[1].decode(Int.self, at: 1) == decomposed.utf8.count)
        // The server compares bytes: the two forms are different strings to PostgreSQL.
        #expect(try connection.query("SELECT count(DISTINCT body) FROM texts").scalar(Int.self) == 2)
    }

    @Test func byteaKeepsNulBytesAndEveryByteValue() async throws {
        let connection = try await connect()
        try connection.execute("CREATE TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL)")
        let every = PostgresBytes((0...255).map { UInt8($0) } + [0, 0, 0])
        try connection.query("INSERT INTO blobs VALUES (1, \(every))")
        let stored = try connection.query("SELECT data, length(data) FROM blobs WHERE id = 1")[0]
        #expect(try stored.decode(PostgresBytes.self, at: 0) == every)
        #expect(try stored.decode(Int.self, at: 1) == 259)
        let empty = PostgresBytes([])
        try connection.query("INSERT INTO blobs VALUES (2, \(empty))")
        #expect(try connection.query("SELECT data FROM blobs WHERE id = 2").scalar(PostgresBytes.self) == empty)
    }

    @Test func arrayParametersWithQuotesHindiAndNulls() async throws {
        let connection = try await connect()
        let values = ["plain", "with \"quotes\"", "back\\slash", "हिन्दी, अल्पविराम", "{braces}", ""]
        let result = try connection.query("SELECT value FROM unnest(\(values)::text[]) WITH ORDINALITY AS t(value, n) ORDER BY n")
        #expect(try result.map { try $0.decode(String.self, at: 0) } == values)
        let numbers: [Int64] = [1, -2, Int64.max]
        #expect(try connection.query("SELECT sum(x::numeric)::text FROM unnest(\(numbers)) AS x").scalar(String.self) == "9223372036854775806")
        let nullable = PostgresNullableArray<String>(["a", nil, "NULL"])
        let rows = try connection.query("SELECT v FROM unnest(\(nullable)::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n")
        #expect(try rows.map { try $0.decode(String?.self, at: 0) } == ["a", nil, "NULL"])
    }

    /// Text, jsonb and uuid arrays travel in the binary array format: every element arrives
    /// as sent (quotes, Hindi, emoji, NULLs, empty arrays), and what PostgreSQL refuses in text
    /// (a NUL byte) it refuses here too.
    @Test func binaryArrayParameters() async throws {
        let connection = try await connect()
        #expect(try connection.query("SELECT cardinality(\([String]())::text[])").scalar(Int.self) == 0)
        #expect(try connection.query("SELECT cardinality(\([UUID]())::uuid[])").scalar(Int.self) == 0)
        let json = [PostgresRawJSON(#"{"text": "क़ानून \"उद्धरण\" 🌧️", "n": [1, 2]}"#), PostgresRawJSON("[]"), PostgresRawJSON(#""\\""#)]
        let texts = try connection.query("SELECT j::text FROM unnest(\(json)::jsonb[]) WITH ORDINALITY AS t(j, n) ORDER BY n")
        #expect(try texts.map { try $0.decode(String.self, at: 0) } == [#"{"n": [1, 2], "text": "क़ानून \"उद्धरण\" 🌧️"}"#, "[]", #""\\""#])
        let ids = [UUID(), UUID()]
        let nullableIDs = PostgresNullableArray<UUID>([ids[0], nil, ids[1]])
        let idRows = try connection.query("SELECT u::text FROM unnest(\(nullableIDs)::uuid[]) WITH ORDINALITY AS t(u, n) ORDER BY n")
        #expect(try idRows.map { try $0.decode(String?.self, at: 0) } == [ids[0].uuidString.lowercased(), nil, ids[1].uuidString.lowercased()])
        let bad = try #require(throws: PostgresError.self) { try connection.query("SELECT unnest(\(["nul \u{0} byte"])::text[])") }
        #expect(bad.sqlState == "22021")
        let badJSON = try #require(throws: PostgresError.self) { try connection.query("SELECT unnest(\([PostgresRawJSON("{not json")])::jsonb[])") }
        #expect(badJSON.sqlState == "22P02")
    }

    @Test func syntaxErrorCarriesSQLStateAndPosition() async throws {
        let connection = try await connect()
        let error = try #require(throws: PostgresError.self) { try connection.execute("SELEC 1") }
        guard case .server(let server) = error else {
            Issue.record("expected a server error, got \(error)")
            return
        }
        #expect(server.sqlState == "42601")
        #expect(server.position == 1)
        #expect(server.message.contains("syntax error"))
        // The connection is still usable afterwards.
        #expect(try connection.query("SELECT 1").scalar(Int.self) == 1)
    }

    @Test func uniqueViolationNamesTheConstraintAndHidesTheValue() async throws {
        let connection = try await connect()
        try connection.execute("CREATE TABLE people (email text CONSTRAINT people_email_key UNIQUE)")
        let secret = "priya.sharma@example.in"
        try connection.query("INSERT INTO people VALUES (\(secret))")
        let error = try #require(throws: PostgresError.self) { try connection.query("INSERT INTO people VALUES (\(secret))") }
        guard case .server(let server) = error else {
            Issue.record("expected a server error, got \(error)")
            return
        }
        #expect(server.sqlState == "23505")
        #expect(server.constraint == "people_email_key")
        #expect(server.table == "people")
        // The raw detail has the value; the description must not.
        #expect(server.detail?.contains(secret) == true)
        #expect(!error.description.contains(secret))
        #expect(!"\(error)".contains(secret))
        #expect(error.description.contains("23505"))
        #expect(error.description.contains("people_email_key"))
        // Parameter values hidden in messages too (invalid input syntax quotes the value).
        let badNumber = "not-a-number-4711"
        let syntax = try #require(throws: PostgresError.self) { try connection.query("SELECT \(badNumber)::int") }
        #expect(!syntax.description.contains(badNumber))
        #expect(syntax.sqlState == "22P02")
    }

    @Test func transactionsCommitAndRollBack() async throws {
        let connection = try await connect()
        try connection.execute("CREATE TABLE items (n int)")
        try connection.transaction { connection in
            try connection.query("INSERT INTO items VALUES (\(1))")
        }
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try connection.transaction { connection in
                try connection.query("INSERT INTO items VALUES (\(2))")
                throw Boom()
            }
        }
        #expect(try connection.query("SELECT array_agg(n)::text FROM items").scalar(String.self) == "{1}")
        #expect(connection.transactionStatus == .idle)
        // An error swallowed inside the transaction still fails the commit.
        let error = try #require(throws: PostgresError.self) {
            try connection.transaction { connection in
                try connection.query("INSERT INTO items VALUES (\(3))")
                _ = try? connection.execute("SELECT 1/0")
            }
        }
        #expect(error.sqlState == "25P02")
        #expect(try connection.query("SELECT count(*) FROM items").scalar(Int.self) == 1)
        // Nested transactions are refused, not silently flattened.
        #expect(throws: PostgresError.self) {
            try connection.transaction { connection in
                try connection.transaction { _ in }
            }
        }
    }

    @Test func preparedStatementsAreParsedOnceAndReused() async throws {
        let connection = try await connect()
        try connection.execute("CREATE TABLE squares (n int8 PRIMARY KEY, square int8)")
        let insert = try connection.prepare("INSERT INTO squares VALUES ($1, $2)", types: [.int8, .int8])
        for n in 1...50 {
            var binds = PostgresBindings()
            binds.append(n)
            binds.append(n * n)
            try connection.execute(insert, binds)
        }
        #expect(try connection.prepare("INSERT INTO squares VALUES ($1, $2)") == insert)
        #expect(try connection.query("SELECT count(*) FROM pg_prepared_statements").scalar(Int.self) == 1)
        #expect(try connection.prepared("SELECT square FROM squares WHERE n = \(7)").scalar(Int.self) == 49)
        #expect(try connection.prepared("SELECT square FROM squares WHERE n = \(9)").scalar(Int.self) == 81)
        #expect(try connection.query("SELECT count(*) FROM pg_prepared_statements").scalar(Int.self) == 2)
    }

    @Test func noticesGoToTheLogger() async throws {
        let logs = CapturedLogs()
        let url = try await TestPostgres.freshDatabase("notice")
        let connection = try Connection(configuration: ConnectionConfiguration(url, logger: logs.logger()))
        try connection.execute("DO $$ BEGIN RAISE NOTICE 'नमस्ते from plpgsql'; RAISE WARNING 'careful'; END $$")
        let entries = logs.all
        #expect(entries.contains { $0.level == .notice && $0.message == "नमस्ते from plpgsql" })
        #expect(entries.contains { $0.level == .warning && $0.message == "careful" && $0.metadata["postgres.sqlstate"] == "01000" })
    }
}

/// What goes wrong before a session exists.
@Suite("Connecting")
struct ConnectingTests {
    @Test func conninfoStringsWorkLikeURLs() async throws {
        let running = try await TestPostgres.shared()
        let conninfo = "host=127.0.0.1 port=\(running.port) user=\(running.superuser) password='\(running.password)' dbname=postgres connect_timeout=3"
        let connection = try Connection(configuration: ConnectionConfiguration(conninfo))
        #expect(connection.summary.description == "127.0.0.1:\(running.port)/postgres")
        #expect(try connection.query("SELECT current_setting('client_encoding')").scalar(String.self) == "UTF8")
        #expect(try connection.query("SELECT current_setting('application_name')").scalar(String.self) == "folio")
        #expect(connection.serverVersion >= 150_000)
    }

    @Test func refusedConnectionSaysSo() throws {
        // Nothing listens on port 1 of the loopback interface.
        let error = try #require(throws: PostgresError.self) {
            try Connection(configuration: ConnectionConfiguration("postgresql://folio@127.0.0.1:1/folio", connectTimeoutSeconds: 2))
        }
        guard case .connectionRefused(let endpoint, _) = error else {
            Issue.record("expected connectionRefused, got \(error)")
            return
        }
        #expect(endpoint == "127.0.0.1:1/folio")
        #expect(error.isConnectionError)
    }

    @Test func malformedURLIsRejectedBeforeConnecting() throws {
        for bad in ["postgresql://host:notaport/db", "postgresql://h/db?nosuchoption=1", "host=x port"] {
            let error = try #require(throws: PostgresError.self) {
                try Connection(configuration: ConnectionConfiguration(bad))
            }
            guard case .invalidConnectionString(let reason) = error else {
                Issue.record("expected invalidConnectionString for \(bad), got \(error)")
                continue
            }
            #expect(!reason.isEmpty)
        }
    }

    @Test func wrongPasswordIsAnAuthenticationFailureWithoutThePassword() async throws {
        let running = try await TestPostgres.shared()
        let wrong = "wrong-password-\(UUID().uuidString.prefix(6))"
        let url = "postgresql://\(running.superuser):\(wrong)@127.0.0.1:\(running.port)/postgres"
        let error = try #require(throws: PostgresError.self) {
            try Connection(configuration: ConnectionConfiguration(url))
        }
        guard case .authenticationFailed(let user, _) = error else {
            Issue.record("expected authenticationFailed, got \(error)")
            return
        }
        #expect(user == running.superuser)
        #expect(!error.description.contains(wrong))
    }

    @Test func missingDatabaseIsAConnectionFailure() async throws {
        let running = try await TestPostgres.shared()
        let error = try #require(throws: PostgresError.self) {
            try Connection(configuration: ConnectionConfiguration(running.url(database: "no_such_database_here")))
        }
        guard case .connectionFailed(_, let message) = error else {
            Issue.record("expected connectionFailed, got \(error)")
            return
        }
        #expect(message.contains("no_such_database_here"))
    }
}

/// The query type itself: no database needed.
@Suite("PostgresQuery")
struct PostgresQueryTests {
    @Test func interpolationBindsEveryValue() {
        let name = "Robert'); DROP TABLE events;--"
        let limit = 10
        let maybe: Int? = nil
        let query: PostgresQuery = "SELECT * FROM \(identifier: "my \"table\"") WHERE name = \(name) AND n < \(limit) AND m = \(maybe)"
        #expect(query.sql == "SELECT * FROM \"my \"\"table\"\"\" WHERE name = $1 AND n < $2 AND m = $3")
        #expect(query.binds.count == 3)
        #expect(query.binds.parameters[0].bytes == Array(name.utf8))
        #expect(query.binds.parameters[1].type == .int8)
        #expect(query.binds.parameters[2].bytes == nil)
        #expect(!query.description.contains("DROP"))
    }

    @Test func sqlLookingTextIsStoredVerbatim() async throws {
        let connection = try Connection(configuration: TestPostgres.configuration(try await TestPostgres.freshDatabase("inject")))
        try connection.execute("CREATE TABLE notes (body text)")
        let evil = "'); DROP TABLE notes; -- $1 \\x00"
        try connection.query("INSERT INTO notes VALUES (\(evil))")
        #expect(try connection.query("SELECT body FROM notes").scalar(String.self) == evil)
    }
}
