import Foundation

/// Paths in the source checkout the tests were built from.
public enum Repository {
    /// The checkout's root folder (the one holding `Package.swift`).
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `migrations/`.
    public static var migrations: URL { root.appendingPathComponent("migrations") }

    /// The `folio` binary built next to the tests (`swift build --build-tests` builds it),
    /// or `FOLIO_BINARY` when set.
    public static var folioBinary: URL {
        if let path = ProcessInfo.processInfo.environment["FOLIO_BINARY"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        // The test bundle sits in the same build folder as the executables.
        let bundle = Bundle.main.bundleURL
        for folder in [bundle, bundle.deletingLastPathComponent()] {
            let candidate = folder.appendingPathComponent("folio")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return root.appendingPathComponent(".build/debug/folio")
    }

    /// A copy of `migrations/` in a temporary folder, for tests that change files.
    public static func copyOfMigrations() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("folio-migrations-\(UUID().uuidString.prefix(8))")
        try FileManager.default.copyItem(at: migrations, to: folder)
        return folder
    }
}
