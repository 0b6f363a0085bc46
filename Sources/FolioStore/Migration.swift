import Crypto
import Foundation

/// One numbered SQL file from `migrations/`: `NNNN_name.sql`.
///
/// Each migration runs in its own transaction, unless its first lines contain the directive
/// `-- folio:no-transaction` (needed for statements such as `CREATE INDEX CONCURRENTLY`).
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var fileName: String
    public var sql: String
    /// Lower-case hex SHA-256 of the file's bytes.
    public var checksum: String
    public var runsInTransaction: Bool

    public init(version: Int, name: String, fileName: String, contents: Data) throws {
        guard let sql = String(data: contents, encoding: .utf8) else {
            throw MigrationError.invalidFile(fileName: fileName, reason: "not valid UTF-8")
        }
        self.version = version
        self.name = name
        self.fileName = fileName
        self.sql = sql
        self.checksum = Migration.checksum(of: contents)
        let header = sql.split(separator: "\n", maxSplits: 10).prefix(10)
        self.runsInTransaction = !header.contains { $0.trimmingCharacters(in: .whitespaces) == "-- folio:no-transaction" }
    }

    public static func checksum(of data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}

/// Reads the migration files from a folder.
///
/// The `folio` binary reads them from the folder at run time (they are not compiled in), found
/// in this order: `--migrations-dir`, `FOLIO_MIGRATIONS_DIR`, `./migrations`,
/// `<binary>/../share/folio/migrations` (installed layout, used by the Docker image), and
/// finally the `migrations/` folder of the source checkout the binary was built in.
public enum MigrationSource {
    /// Loads and checks every `NNNN_name.sql` in `directory`, sorted by version.
    public static func load(from directory: URL) throws -> [Migration] {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw MigrationError.directoryNotFound(path: directory.path)
        }
        var migrations: [Migration] = []
        for fileName in try fileManager.contentsOfDirectory(atPath: directory.path).sorted() where fileName.hasSuffix(".sql") {
            let (version, name) = try parse(fileName: fileName)
            let contents = try Data(contentsOf: directory.appendingPathComponent(fileName))
            migrations.append(try Migration(version: version, name: name, fileName: fileName, contents: contents))
        }
        migrations.sort { $0.version < $1.version }
        for (previous, next) in zip(migrations, migrations.dropFirst()) where previous.version == next.version {
            throw MigrationError.duplicateVersion(version: next.version, files: [previous.fileName, next.fileName])
        }
        return migrations
    }

    /// `0007_add_search.sql` → (7, "add_search").
    static func parse(fileName: String) throws -> (Int, String) {
        let stem = fileName.dropLast(4)
        guard let underscore = stem.firstIndex(of: "_") else {
            throw MigrationError.invalidFile(fileName: fileName, reason: "expected NNNN_name.sql")
        }
        let digits = stem[..<underscore]
        let name = stem[stem.index(after: underscore)...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let version = Int(digits), version > 0,
            !name.isEmpty
        else {
            throw MigrationError.invalidFile(fileName: fileName, reason: "expected NNNN_name.sql with a positive number")
        }
        return (version, String(name))
    }

    /// Finds the migrations folder (see the type's documentation for the order).
    public static func defaultDirectory(
        explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath,
        executable: URL? = Bundle.main.executableURL
    ) throws -> URL {
        var candidates: [URL] = []
        if let explicit { return URL(fileURLWithPath: explicit) }
        if let fromEnvironment = environment["FOLIO_MIGRATIONS_DIR"], !fromEnvironment.isEmpty {
            return URL(fileURLWithPath: fromEnvironment)
        }
        candidates.append(URL(fileURLWithPath: currentDirectory).appendingPathComponent("migrations"))
        if let executable {
            let binDirectory = executable.resolvingSymlinksInPath().deletingLastPathComponent()
            candidates.append(binDirectory.appendingPathComponent("../share/folio/migrations").standardizedFileURL)
            // A development build lives in <checkout>/.build/<triple>/debug/folio.
            var directory = binDirectory
            for _ in 0..<5 {
                directory = directory.deletingLastPathComponent()
                if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                    candidates.append(directory.appendingPathComponent("migrations"))
                    break
                }
            }
        }
        for candidate in candidates {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), isDirectory.boolValue {
                return candidate
            }
        }
        throw MigrationError.directoryNotFound(path: candidates.map(\.path).joined(separator: ", "))
    }
}

/// Why migrations could not be read, checked or applied.
public enum MigrationError: Error, Sendable, CustomStringConvertible {
    case directoryNotFound(path: String)
    case invalidFile(fileName: String, reason: String)
    case duplicateVersion(version: Int, files: [String])
    /// `verify` found applied migrations whose file changed or disappeared.
    case verificationFailed([MigrationReport.Entry])
    /// A pending migration is numbered below one already applied.
    case outOfOrder(pending: Int, latestApplied: Int)
    case failed(version: Int, name: String, underlying: any Error)

    public var description: String {
        switch self {
        case .directoryNotFound(let path):
            return "migrations folder not found (looked in: \(path)); pass --migrations-dir or set FOLIO_MIGRATIONS_DIR"
        case .invalidFile(let fileName, let reason):
            return "migration file \(fileName): \(reason)"
        case .duplicateVersion(let version, let files):
            return "migration version \(version) is used by several files: \(files.joined(separator: ", "))"
        case .verificationFailed(let entries):
            let lines = entries.map { "  \($0.version) \($0.name): \($0.state.summary)" }
            return "applied migrations do not match the files (migrations are never edited once applied):\n" + lines.joined(separator: "\n")
        case .outOfOrder(let pending, let latest):
            return "migration \(pending) is pending but \(latest) is already applied; number new migrations above \(latest)"
        case .failed(let version, let name, let underlying):
            return "migration \(version) (\(name)) failed and was rolled back: \(underlying)"
        }
    }
}

/// What the database has applied, compared with the files.
public struct MigrationReport: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var version: Int
        public var name: String
        public var state: State
    }

    public enum State: Sendable, Equatable {
        case applied(at: Date, durationMilliseconds: Double, checksum: String)
        case pending
        /// Applied, but the file's checksum differs.
        case changed(appliedChecksum: String, fileChecksum: String)
        /// Applied, but no file has this version any more.
        case missing(appliedChecksum: String)

        public var summary: String {
            switch self {
            case .applied: return "applied"
            case .pending: return "pending"
            case .changed(let applied, let file):
                return "CHANGED since it was applied (applied \(applied.prefix(12)), file \(file.prefix(12)))"
            case .missing: return "MISSING: applied, but its file is gone"
            }
        }

        public var name: String {
            switch self {
            case .applied: return "applied"
            case .pending: return "pending"
            case .changed: return "changed"
            case .missing: return "missing"
            }
        }
    }

    public var entries: [Entry]

    public var problems: [Entry] {
        entries.filter {
            switch $0.state {
            case .changed, .missing: return true
            default: return false
            }
        }
    }

    public var pending: [Entry] { entries.filter { $0.state == .pending } }
    public var isCurrent: Bool { problems.isEmpty && pending.isEmpty }
}
